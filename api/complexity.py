"""Limits on what one GraphQL operation may ask for, checked before it runs: depth, cost, aliases.

* **depth**: the deepest chain of selections (``taskBoard { nodes { task { comments { ... }}}}``).
* **cost**: every field selected counts 1, times the page it may be repeated over: a field
  under ``taskBoard(first: 200)`` counts 200 times. ``first`` given as a variable is counted at
  the default page (the listing itself refuses pages over its maximum).
* **aliases**: the same field asked for under many names is the cheapest way to multiply work.

A refused operation gets one GraphQL error with ``extensions.code`` QUERY_TOO_COMPLEX and runs
nothing. Fragments are followed; a fragment that spreads itself is left to GraphQL's own rule.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

CODE = "QUERY_TOO_COMPLEX"
DEFAULT_PAGE = 50
# paged fields and their page when no `first` is given (api/schema/queries.py)
PAGED = {"taskBoard": DEFAULT_PAGE}


@dataclasses.dataclass
class Measure:
    depth: int = 0
    cost: int = 0
    aliases: int = 0


def measure(selection: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
            seen: frozenset[str] = frozenset(), memo: dict[str, Measure] | None = None) -> Measure:
    """Depth, cost and aliases of a selection set, fragments expanded (a field without a selection
    of its own is depth 1). Each fragment is measured once (``memo``): a fragment spread twice in
    each of twenty nested fragments must not cost 2**20 steps to measure."""
    memo = {} if memo is None else memo
    out = Measure()
    if selection is None:
        return out
    for node in selection.selections:
        if isinstance(node, FieldNode):
            inner = measure(node.selection_set, fragments, seen, memo)
            out.depth = max(out.depth, 1 + inner.depth)
            out.cost += 1 + _page(node) * inner.cost
            out.aliases += inner.aliases + (1 if node.alias is not None else 0)
            continue
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in seen or name not in fragments:
                continue  # a cycle or an unknown fragment: GraphQL's own rules report it
            if name not in memo:
                memo[name] = measure(fragments[name].selection_set, fragments, seen | {name}, memo)
            inner = memo[name]
        elif isinstance(node, InlineFragmentNode):
            inner = measure(node.selection_set, fragments, seen, memo)
        else:  # pragma: no cover - no other selection kinds exist
            continue
        out.depth = max(out.depth, inner.depth)
        out.cost += inner.cost
        out.aliases += inner.aliases
    return out


def _page(node: FieldNode) -> int:
    """How many times a field's selection may repeat: its ``first``, or its page by default."""
    for arg in node.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, IntValueNode):
                return max(1, int(arg.value.value))
            return DEFAULT_PAGE
    return PAGED.get(node.name.value, 1)


def rule(max_depth: int, max_cost: int, max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing operations over these limits."""

    class Limits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {d.name.value: d for d in self.context.document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            found = measure(node.selection_set, fragments)
            for what, value, limit in (("depth", found.depth, max_depth), ("cost", found.cost, max_cost),
                                       ("aliases", found.aliases, max_aliases)):
                if value > limit:
                    self.report_error(GraphQLError(
                        f"this operation's {what} is {value}; the limit is {limit}: ask for fewer, shallower fields "
                        f"or smaller pages", node, extensions={"code": CODE}))
                    return

    return Limits
