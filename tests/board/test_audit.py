"""The hash chains of task_events and agent_interactions: written by every path, linked under
concurrency, and broken links found by `audit verify` (edits, deletions, rewritten links)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import audit, lifecycle
from tests.board.conftest import raised, run_together
from tests.conftest import make_agent, make_task

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def busy_board(db):
    """A history with every kind of row: completions, a review, a failure and retries."""
    a, b, c = (make_agent(db, now=T0) for _ in range(3))
    done = make_task(db, now=T0)
    t = lifecycle.claim(db, a.id, now=at(1))
    lifecycle.result(db, t.id, a.id, t.attempt, output={"ok": True}, quality=0.9, now=at(2))
    reviewed = make_task(db, now=at(3), review_quorum=2)
    t = lifecycle.claim(db, a.id, now=at(4))
    lifecycle.result(db, t.id, a.id, t.attempt, quality=0.8, now=at(5))
    lifecycle.review(db, reviewed.id, b.id, 1, now=at(6))
    lifecycle.review(db, reviewed.id, c.id, 1, now=at(7))
    failing = make_task(db, now=at(8), max_attempts=1)
    t = lifecycle.claim(db, b.id, now=at(9))
    lifecycle.fail(db, t.id, b.id, t.attempt, "no", now=at(10))
    return (a, b, c), (done, reviewed, failing)


def tamper(sql, statement: str, *params) -> None:
    """What someone with the owner's rights can do: switch the append-only triggers off."""
    sql.execute("SET session_replication_role = replica")
    try:
        sql.execute(statement, params)
    finally:
        sql.execute("SET session_replication_role = DEFAULT")


@pytest.mark.rolled_back
def test_every_path_links_its_rows_and_the_walk_finds_no_fault(db, sql):
    agents, tasks = busy_board(db)
    report = audit.verify(db, batch=2)  # small batches: the cursor crosses batch borders
    assert report.ok, [b.describe() for b in report.broken]
    events = sql.execute("SELECT count(*) AS n FROM phoenix.task_events").fetchone()["n"]
    interactions = sql.execute("SELECT count(*) AS n FROM phoenix.agent_interactions").fetchone()["n"]
    assert report.rows == {"task_events": events, "agent_interactions": interactions}
    assert report.chains["task_events"] == len(tasks)
    # each chain starts at 1, counts up by one and points at the row before
    rows = sql.execute("SELECT task_id, seq, prev_hash, hash FROM phoenix.task_events ORDER BY task_id, seq").fetchall()
    for prev, row in zip(rows, rows[1:]):
        if prev["task_id"] == row["task_id"]:
            assert row["seq"] == prev["seq"] + 1 and row["prev_hash"] == prev["hash"]
        else:
            assert row["seq"] == 1 and row["prev_hash"] == bytes(32)
    assert [e["seq"] for e in lifecycle.events(db, tasks[1].id)] == list(range(1, 1 + len(lifecycle.events(db, tasks[1].id))))


@pytest.mark.rolled_back
def test_an_edited_event_is_reported_at_its_link(db, sql):
    _, (done, _, _) = busy_board(db)
    row = sql.execute("SELECT id, seq FROM phoenix.task_events WHERE task_id = %s AND kind = 'claimed'", (done.id,)).fetchone()
    tamper(sql, "UPDATE phoenix.task_events SET agent_id = NULL WHERE id = %s", row["id"])
    report = audit.verify(db)
    assert not report.ok and len(report.broken) == 1
    first = report.first
    assert (first.chain, first.owner, first.seq, first.id, first.fault) == ("task_events", done.id, row["seq"], row["id"], "content")


@pytest.mark.rolled_back
def test_a_rewritten_row_with_a_fresh_hash_breaks_the_next_link(db, sql):
    _, (done, _, _) = busy_board(db)
    row = sql.execute("SELECT * FROM phoenix.task_events WHERE task_id = %s AND seq = 1", (done.id,)).fetchone()
    # the forger recomputes the edited row's own hash, but cannot fix the row after it
    tamper(sql, """UPDATE phoenix.task_events SET detail = '{"team": "forged"}',
                       hash = phoenix.task_event_hash(prev_hash, task_id, seq, kind, agent_id, attempt, at, '{"team": "forged"}')
                    WHERE id = %s""", row["id"])
    report = audit.verify(db)
    assert [(b.owner, b.seq, b.fault) for b in report.broken] == [(done.id, 2, "prev_hash")]


@pytest.mark.rolled_back
def test_deleted_events_and_a_deleted_history_are_reported(db, sql):
    _, (done, reviewed, _) = busy_board(db)
    tamper(sql, "DELETE FROM phoenix.task_events WHERE task_id = %s AND seq = 2", reviewed.id)
    tamper(sql, "DELETE FROM phoenix.task_events WHERE task_id = %s", done.id)
    faults = {(b.owner, b.fault) for b in audit.verify(db).broken}
    assert faults == {(reviewed.id, "gap"), (done.id, "missing")}


@pytest.mark.rolled_back
def test_an_edited_interaction_is_reported(db, sql):
    (a, _, _), _ = busy_board(db)
    row = sql.execute("SELECT id, seq FROM phoenix.agent_interactions WHERE agent_to = %s ORDER BY seq LIMIT 1", (a.id,)).fetchone()
    tamper(sql, "UPDATE phoenix.agent_interactions SET trust_delta = trust_delta + 0.25 WHERE id = %s", row["id"])
    report = audit.verify(db)
    assert [(b.chain, b.owner, b.seq, b.fault) for b in report.broken] == [("agent_interactions", a.id, row["seq"], "content")]


@pytest.mark.rolled_back
def test_the_history_stays_append_only(db, sql):
    busy_board(db)
    for statement in ("UPDATE phoenix.task_events SET kind = 'x'", "DELETE FROM phoenix.agent_interactions"):
        with pytest.raises(Exception, match="append-only"):
            sql.execute(statement)
    assert audit.verify(db).ok


def test_concurrent_writers_keep_every_chain_linked(db):
    """16 agents claim and complete 64 tasks at once, and 8 voters review the same tasks: chains
    of different tasks never wait on each other, and those of one task never fork."""
    workers = [make_agent(db, now=T0) for _ in range(16)]
    for i in range(64):
        make_task(db, now=at(i / 100), review_quorum=1 if i % 4 == 0 else 0)

    def work(agent):
        def run():
            while (t := lifecycle.claim(db, agent.id, now=at(10))) is not None:
                lifecycle.result(db, t.id, agent.id, t.attempt, quality=1.0, now=at(11))
        return run

    assert raised(run_together([work(a) for a in workers])) == []
    in_review = [t for t in db.all("task_status_counts", team="alpha_delta") if t["status"] == "review"]
    reviewers = [make_agent(db, now=T0) for _ in range(8)]
    tasks = [r["id"] for r in db.fetch_sql("SELECT id FROM phoenix.tasks WHERE status = 'review'")]
    assert in_review and len(tasks) == 16

    def review(agent):
        def run():
            for t in tasks:
                try:
                    lifecycle.review(db, t, agent.id, 1, now=at(12))
                except Exception as exc:  # noqa: BLE001 - a task decided by another reviewer refuses
                    if "not in review" not in str(exc):
                        raise
        return run

    assert raised(run_together([review(a) for a in reviewers])) == []
    report = audit.verify(db)
    assert report.ok, [b.describe() for b in report.broken]
    assert report.chains["task_events"] == 64


@pytest.mark.slow
def test_audit_verify_command(url, sql, tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path), "COLUMNS": "200"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "audit", "verify", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    sql.execute("SELECT * FROM phoenix.task_submit('t', '', NULL, '{}', 5, 'alpha_delta', NULL, 1, 3, 0, '{}', NULL, 1, NULL)")
    ok = cli()
    assert ok.returncode == 0, ok.stderr
    assert "every link holds" in ok.stdout
    tamper(sql, "UPDATE phoenix.task_events SET attempt = 7")
    broken = cli()
    assert broken.returncode == 1
    assert "broken: 1 link(s); first: task_events of" in broken.stderr and "seq 1" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    js = cli("--json")
    assert js.returncode == 1 and '"fault": "content"' in js.stdout
