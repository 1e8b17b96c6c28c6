"""Teams: the rows agents and tasks belong to (seeded: alpha_delta, epsilon_zeta, iota)."""

from __future__ import annotations

import re
from typing import Any

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database

# as models.Name and the table's teams_name_format constraint
_NAME = re.compile(rf"[a-z][a-z0-9_]{{0,{constants.NAME_MAX - 1}}}")


def overview(db: Database) -> list[dict[str, Any]]:
    """Every team with its agents in service and its tasks not yet ended."""
    return db.all("teams_overview")


def create(db: Database, name: Any, description: Any = "") -> dict[str, Any]:
    """A new team; Conflict if it exists. The name is checked here and by the table's constraint."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise errors.InvalidInput(f"team {inputs.shown(name)} {models.NAME_RULE}")
    if not isinstance(description, str) or len(description) > constants.DESCRIPTION_MAX:
        raise errors.InvalidInput(f"description must be text of at most {constants.DESCRIPTION_MAX} characters")
    row = db.one("team_create", team=name, description=inputs.text(description) if description else "")
    if row is None:
        raise errors.Conflict(f"team {name} exists already")
    return row
