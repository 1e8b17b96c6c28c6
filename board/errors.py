"""Typed board errors. Each carries one line that says what was wrong and what to do.

Only ``board/db.py`` turns database errors into these (by SQLSTATE and constraint name); the
command line prints ``error: <message>`` and exits 1; Celery tasks reject bad messages.
"""

from __future__ import annotations

import re

from phoenix_board.board import constants

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(message: str) -> str:
    """The message as one short printable line: a multi-line or 10 MB message would break log
    parsers and the CLI contract, and a lone surrogate quoted from bad input could not be printed."""
    text = " ".join(message.split())
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > constants.ERROR_MESSAGE_MAX:
        text = text[: constants.ERROR_MESSAGE_MAX - 3] + "..."
    return text


class BoardError(Exception):
    """The board refused the operation."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        text = one_line(str(message or self.__doc__ or ""))
        super().__init__(text)
        self.message = text


class NotFound(BoardError):
    """The object does not exist."""


class Conflict(BoardError):
    """The object is not in a state that allows this operation."""


class IllegalTransition(Conflict):
    """The task's status does not allow this transition."""


class StaleClaim(Conflict):
    """This claim is no longer current: the lease expired and the task moved on."""


class Forbidden(BoardError):
    """This agent may not do that."""


class SelfVote(Forbidden):
    """An agent cannot vote on or review its own task."""


class NotClaimant(Forbidden):
    """Only the agent holding the claim can do that."""


class InvalidInput(BoardError):
    """The input is not valid."""


class Unavailable(BoardError):
    """A server the board needs cannot be reached."""


# SQLSTATEs raised by the board's SQL functions (sql/functions/*.sql); db.py maps them here.
BY_SQLSTATE: dict[str, type[BoardError]] = {
    "PBNF0": NotFound,
    "PBCF0": Conflict,
    "PBIT0": IllegalTransition,
    "PBSC0": StaleClaim,
    "PBFB0": Forbidden,
    "PBSV0": SelfVote,
    "PBNC0": NotClaimant,
    "PBIN0": InvalidInput,
}
