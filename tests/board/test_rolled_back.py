"""The suite's rolled-back database (tests/conftest.py): the board works in it as on a database of its
own, a refused call undoes only itself, and nothing is left once the test's transaction ends."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import errors, lifecycle
from tests.conftest import make_agent, make_task, rolled_back_database


def count(conn, codename: str) -> int:
    return conn.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename = %s", (codename,)).fetchone()["n"]


def test_work_is_seen_inside_gone_after_and_a_refusal_undoes_only_itself(shared_url):
    with rolled_back_database(shared_url) as (db, sql):
        agent = make_agent(db, codename="rolled-back-probe")
        task = make_task(db, title="rolled back with the test")
        with pytest.raises(errors.BoardError), db.transaction() as conn:
            conn.execute("SELECT 1 / 0")  # refused in its savepoint; the test's transaction goes on
        with pytest.raises(psycopg.errors.DivisionByZero):
            sql.execute("SELECT 1 / 0")
        assert lifecycle.claim(db, agent.id).id == task.id
        assert count(sql, "rolled-back-probe") == 1
    with psycopg.connect(shared_url, row_factory=dict_row) as conn:
        assert count(conn, "rolled-back-probe") == 0
        assert conn.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE id = %s", (task.id,)).fetchone()["n"] == 0
