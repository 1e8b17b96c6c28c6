"""Teams: the rows agents and tasks belong to (seeded: alpha_delta, epsilon_zeta, iota)."""

from __future__ import annotations

from typing import Any

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database


def overview(db: Database) -> list[dict[str, Any]]:
    """Every team with its agents in service and its tasks not yet ended."""
    return db.all("teams_overview")


def create(db: Database, name: Any, description: Any = "") -> dict[str, Any]:
    """A new team; Conflict if it exists. The name is checked here and by the table's constraint."""
    name = models.team_arg(name)
    if not isinstance(description, str) or len(description) > constants.DESCRIPTION_MAX:
        raise errors.InvalidInput(f"description must be text of at most {constants.DESCRIPTION_MAX} characters")
    row = db.one("team_create", team=name, description=inputs.text(description) if description else "")
    if row is None:
        raise errors.Conflict(f"team {name} exists already")
    return row
