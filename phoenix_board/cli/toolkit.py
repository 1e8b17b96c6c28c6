"""What every command module shares: the settings a command runs with, JSON arguments, vote
directions, the common options and the unhandled-category warning."""

from __future__ import annotations

import json
from typing import Any

import typer

from phoenix_board.board import constants, errors, models
from phoenix_board.board.settings import Settings
from phoenix_board.cli import render
from phoenix_board.workers import handlers

JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print only the new id, for scripts: ID=$(phoenix-board ... -q).")
AgentOpt = typer.Option(..., "--agent", "-a", help="Acting agent: codename or id.")


def settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's settings error is many lines; keep the first that matters
        raise errors.InvalidInput(f"configuration: {models.describe(exc) if hasattr(exc, 'errors') else exc}") from None


def print_json(value: Any) -> None:
    typer.echo(render.dumps(value))


def json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.InvalidInput(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # the parser recurses per level; the limit would refuse it anyway
        raise errors.InvalidInput(f"{what} nests too deeply (at most {constants.PAYLOAD_DEPTH_MAX} levels)") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise errors.InvalidInput(f"{what} is not valid JSON: {exc}") from None


def vote_value(direction: str) -> int:
    table = {"up": 1, "+1": 1, "1": 1, "down": -1, "-1": -1, "retract": 0, "0": 0}
    if direction not in table:
        raise errors.InvalidInput(f"vote must be up, down, retract, +1, -1 or 0, not {direction[:20]!r}")
    return table[direction]


def warn_unhandled(category: str) -> None:
    """A warning on stderr when no agent of this installation could run the category: such a task
    fails at once when claimed (docs/operations/running-agents.md, handlers)."""
    known = handlers.categories()
    if category not in known:
        render.err_console.print(f"warning: no handler for category {render.safe(category)}: an agent that claims it "
                                 f"fails it at once; categories with a handler: {', '.join(known)}", highlight=False, soft_wrap=True)
