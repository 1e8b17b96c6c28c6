"""The one place that turns what went wrong into a GraphQL error's stable ``extensions.code``.

The board raises typed errors (``board/errors.py``) with a one-line message; a client branches on
the code, never on the message. Codes, most specific kind first:

============================  =======================  =======================================
board error                   code                     meaning for the client
============================  =======================  =======================================
``auth.Unauthenticated``      ``UNAUTHENTICATED``      send a valid token (HTTP 401)
``StaleClaim``                ``STALE_CLAIM``          your attempt is no longer current: drop it
``IllegalTransition``         ``ILLEGAL_TRANSITION``   the task's status does not allow it
``Conflict``                  ``CONFLICT``             the object's state does not allow it
``SelfVote``, ``NotClaimant``,
``Forbidden``                 ``FORBIDDEN``            this token may not do that
``NotFound``                  ``NOT_FOUND``            no such object (or not visible to you)
``InvalidInput``              ``INVALID_INPUT``        fix the input
``Unavailable``               ``UNAVAILABLE``          a server is away: retry later
``QueryTooComplex``           ``QUERY_TOO_COMPLEX``    ask for less (depth, cost, aliases)
``subscriptions.Missed``      ``EVENTS_MISSED``        re-read what you follow, subscribe again
``TooManySubscriptions``      ``TOO_MANY_SUBSCRIPTIONS``  close one of this token's subscriptions
(rate limit, api/limits.py)   ``RATE_LIMITED``         HTTP 429, wait ``Retry-After`` seconds
parse / schema validation     ``GRAPHQL_PARSE_FAILED``, ``GRAPHQL_VALIDATION_FAILED``
malformed request (HTTP 400)  ``BAD_REQUEST``          not JSON, no query, a wrong method
body over the limit           ``BODY_TOO_LARGE``       HTTP 413 (api/limits.py)
anything else                 ``INTERNAL``             a bug: logged, message withheld
============================  =======================  =======================================

``FORBIDDEN`` errors also carry ``extensions.reason`` (``self_vote``, ``not_claimant``) where the
board says which. A mutation is one call of the board's Python API, so one transaction: an error
means it wrote nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from phoenix_board.board import errors

log = logging.getLogger(__name__)

UNAUTHENTICATED = "UNAUTHENTICATED"
INTERNAL = "INTERNAL"
RATE_LIMITED = "RATE_LIMITED"


class QueryTooComplex(errors.InvalidInput):
    """The query asks for too much; ask for fewer, shallower fields or smaller pages."""


# most specific first: the first class the error is an instance of wins
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (QueryTooComplex, "QUERY_TOO_COMPLEX"),
    (errors.StaleClaim, "STALE_CLAIM"),
    (errors.IllegalTransition, "ILLEGAL_TRANSITION"),
    (errors.Conflict, "CONFLICT"),
    (errors.Forbidden, "FORBIDDEN"),
    (errors.NotFound, "NOT_FOUND"),
    (errors.InvalidInput, "INVALID_INPUT"),
    (errors.Unavailable, "UNAVAILABLE"),
)
_REASONS = {errors.SelfVote: "self_vote", errors.NotClaimant: "not_claimant"}


def code_for(exc: BaseException) -> str:
    # imported here: auth.py imports this package's modules at will, and its class is the contract
    from phoenix_board.api import auth, subscriptions

    if isinstance(exc, auth.Unauthenticated):
        return UNAUTHENTICATED
    if isinstance(exc, subscriptions.Missed):
        return "EVENTS_MISSED"
    if isinstance(exc, subscriptions.TooManySubscriptions):
        return "TOO_MANY_SUBSCRIPTIONS"
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return INTERNAL


def formatted(error: GraphQLError) -> dict[str, Any]:
    """One GraphQL error as the response carries it, with its code; an unexpected exception's
    message is withheld (it may quote internals) and logged with its traceback instead."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    message = error.message
    if original is None or isinstance(original, GraphQLError):
        if "code" not in extensions:
            extensions["code"] = ("GRAPHQL_PARSE_FAILED" if message.startswith("Syntax Error")
                                  else "GRAPHQL_VALIDATION_FAILED")
    elif isinstance(original, errors.BoardError):
        extensions["code"] = code_for(original)
        message = original.message
        if (reason := _REASONS.get(type(original))) is not None:
            extensions["reason"] = reason
    else:
        extensions["code"] = INTERNAL
        log.error("unexpected error in %s", ".".join(map(str, error.path or [])) or "the operation",
                  exc_info=(type(original), original, original.__traceback__))
        message = "internal error (logged by the server)"
    out: dict[str, Any] = {"message": message, "extensions": extensions}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    return out


def graphql_error(exc: BaseException) -> GraphQLError:
    """A board error as a GraphQLError carrying its code, for paths that format errors themselves
    (a subscription's errors go out over the websocket without process_result)."""
    if isinstance(exc, errors.BoardError):
        return GraphQLError(exc.message, extensions={"code": code_for(exc)})
    log.error("unexpected error in a subscription", exc_info=(type(exc), exc, exc.__traceback__))
    return GraphQLError("internal error (logged by the server)", extensions={"code": INTERNAL})


def body(exc: BaseException) -> dict[str, Any]:
    """A whole response for an error met before GraphQL runs (authentication): {"errors": [...]}."""
    message = exc.message if isinstance(exc, errors.BoardError) else "internal error (logged by the server)"
    return {"errors": [{"message": message, "extensions": {"code": code_for(exc)}}]}
