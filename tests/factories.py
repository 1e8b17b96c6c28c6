"""Test data through the board's own API, with overridable defaults."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from phoenix_board.board import agents, lifecycle, models
from phoenix_board.board.db import Database

_seq = itertools.count(1)


def make_agent(db: Database, now: datetime | None = None, **overrides: Any) -> models.Agent:
    data = {"codename": f"agent-{next(_seq)}", "team": "alpha_delta"} | overrides
    agent, _ = agents.register(db, data, now=now)
    return agent


def make_task(db: Database, now: datetime | None = None, **overrides: Any) -> models.Task:
    data = {"title": f"task {next(_seq)}", "team": "alpha_delta"} | overrides
    task, _ = lifecycle.submit(db, data, now=now)
    return task


def snapshot(sql: Any) -> dict[str, Any]:
    """Row counts and a checksum of every board table: equal snapshots mean nothing was written."""
    out = {}
    for table in ("teams", "agents", "tasks", "task_votes", "task_reviews", "task_comments", "comment_votes",
                  "agent_interactions", "task_events"):
        row = sql.execute(
            f"SELECT count(*) AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS h FROM phoenix.{table} t"
        ).fetchone()
        out[table] = (row["n"], row["h"])
    return out
