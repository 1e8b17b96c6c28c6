"""The GraphQL schema: Query, Mutation and Subscription over the board's Python API.

``schema.graphql`` at the top of the repository is this schema printed (``sdl()``);
``phoenix-board serve --print-schema`` prints it, and a test fails when the two drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import OperationDefinitionNode
from strawberry.extensions import AddValidationRules, ParserCache, SchemaExtension, ValidationCache
from strawberry.tools import merge_types

from phoenix_board.api import complexity
from phoenix_board.api.schema.mutations import Mutation
from phoenix_board.api.schema.queries import Query
from phoenix_board.api.schema.schedules import ScheduleMutation, ScheduleQuery
from phoenix_board.api.schema.retry import RetryMutation
from phoenix_board.api.schema import people
from phoenix_board.api.schema import flow
from phoenix_board.api.schema.subscription import Subscription




class Timing(SchemaExtension):
    """Observes each query's and mutation's duration under ``<type> <first root field>``; the
    label comes from a validated document, so it names a schema field, never client text."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        metrics = getattr(getattr(ctx.context, "request", None), "app", None)
        metrics = getattr(getattr(metrics, "state", None), "metrics", None)
        if metrics is None:
            return
        label = "invalid"
        document = ctx.graphql_document
        if document is not None and not ctx.pre_execution_errors:
            ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            op = next((o for o in ops if ctx.operation_name is None or (o.name and o.name.value == ctx.operation_name)),
                      None)
            if op is not None and op.operation.value != "subscription":
                first = next((s.name.value for s in op.selection_set.selections if hasattr(s, "name")), "fragment")
                label = f"{op.operation.value} {first}"
            elif op is not None:
                return  # a subscription's duration is how long it stayed open, counted elsewhere
        metrics.request_seconds.labels(label).observe(time.perf_counter() - started)


# the root types: each part's own query and mutation classes, merged
# (one line per part, so that parts add theirs without touching each other's)
QUERIES = (
    Query,
    ScheduleQuery,
    people.PeopleQuery,
    flow.FlowQuery,
)
MUTATIONS = (
    Mutation,
    ScheduleMutation,
    RetryMutation,
    people.PeopleMutation,
    flow.FlowMutation,
)
RootQuery = merge_types("Query", QUERIES)
RootMutation = merge_types("Mutation", MUTATIONS)

DOCUMENT_CACHE = 256  # distinct documents kept parsed and validated, per server process


class BoardSchema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Nothing: a board error is the client's answer, not the server's problem, and an
        unexpected one is logged with its traceback where it is answered (api/errors.py)."""


def build(settings: Any = None) -> strawberry.Schema:
    """The schema with the limits of ``settings`` (api/settings.py); without, the defaults."""
    from phoenix_board.api.settings import ApiSettings

    fields = ApiSettings.model_fields
    limit = (lambda name: getattr(settings, name)) if settings is not None else (lambda name: fields[name].default)
    rule = complexity.rule(limit("api_max_depth"), limit("api_max_cost"), limit("api_max_aliases"))
    # Agents send the same few documents over and over: parsing and validating each (with the
    # limits' rule, which reads no variables) is most of a small request's CPU, so both are cached
    # by the document's text, in bounded LRUs that unique texts from a hostile client cannot grow.
    return BoardSchema(query=RootQuery, mutation=RootMutation, subscription=Subscription,
                       extensions=[lambda: AddValidationRules([rule]), lambda: ParserCache(maxsize=DOCUMENT_CACHE),
                                   lambda: ValidationCache(maxsize=DOCUMENT_CACHE), Timing])  # one per request


def sdl() -> str:
    """The schema in GraphQL's schema language, as committed in schema.graphql."""
    return build().as_str() + "\n"
