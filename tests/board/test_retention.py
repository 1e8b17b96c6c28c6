"""Retention (docs/operations/retention.md): finished tasks older than the cutoff go with their
history, a batch per transaction with its audit checkpoint; nothing live or recent goes; `audit
verify` holds afterwards and still finds a rewritten checkpoint or base; two pruners at once do
not double-delete; and the beat's automatic decommission (docs/operations/decommission.md)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import agents, audit, comments, delegation, errors, lifecycle, members, outbox, retention, retry, votes
from phoenix_board.scheduler import jobs
from tests.board.conftest import run_together
from tests.conftest import make_agent, make_task, snapshot

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def finished_history(db, n: int = 4):
    """n completed tasks with votes, a comment and a review's interactions; one failed; one cancelled."""
    a, b, c = (make_agent(db, now=T0) for _ in range(3))
    done = []
    for i in range(n):
        make_task(db, now=at(i), review_quorum=1 if i == 0 else 0)
        t = lifecycle.claim_start(db, a.id, now=at(i))
        lifecycle.result(db, t.id, a.id, t.attempt, {"i": i}, 0.9, now=at(i + 0.5))
        if i == 0:
            lifecycle.review(db, t.id, b.id, 1, now=at(i + 0.6))
        votes.vote(db, t.id, c.id, 1, now=at(i + 0.7))
        comments.add(db, t.id, b.id, f"nice {i}", now=at(i + 0.8))
        done.append(t.id)
    failed = make_task(db, now=at(50), max_attempts=1)
    t = lifecycle.claim_start(db, b.id, now=at(51))
    lifecycle.fail(db, t.id, b.id, t.attempt, "no", now=at(52))
    cancelled = make_task(db, now=at(60))
    delegation.cancel(db, cancelled.id, reason="not needed", now=at(61))
    return (a, b, c), done + [failed.id, cancelled.id]


def settle(db, now: datetime) -> None:
    """What the beat does within seconds of the events: spread the hormone cascades they started
    (a task whose cascade waits to spread is kept)."""
    jobs.hormone_cascades(db, now)


def payloads_said(sql, tasks=None) -> dict:
    """Each task event's outbox row (of ``tasks``, or all) and the payload its event says, built now."""
    return {(r["task_id"], r["seq"], r["topic"]): r["payload"] for r in sql.execute(
        "SELECT o.task_id, o.seq, o.topic, phoenix.outbox_task_payload(o.topic, e, t, o.status) AS payload "
        "FROM phoenix.outbox o JOIN phoenix.task_events e ON (e.task_id, e.seq) = (o.task_id, o.seq) "
        "JOIN phoenix.tasks t ON t.id = o.task_id WHERE %(tasks)s::uuid[] IS NULL OR o.task_id = ANY (%(tasks)s)",
        {"tasks": tasks}).fetchall()}


def payloads_kept(sql, tasks=None) -> dict:
    """Each task event's outbox row (of ``tasks``, or all) and the payload it carries."""
    return {(r["task_id"], r["seq"], r["topic"]): r["payload"] for r in sql.execute(
        "SELECT task_id, seq, topic, payload FROM phoenix.outbox "
        "WHERE seq IS NOT NULL AND (%(tasks)s::uuid[] IS NULL OR task_id = ANY (%(tasks)s))",
        {"tasks": tasks}).fetchall()}


def count(sql, table: str, where: str = "true", *params) -> int:
    return sql.execute(f"SELECT count(*) AS n FROM phoenix.{table} WHERE {where}", params).fetchone()["n"]


@pytest.mark.rolled_back
def test_old_finished_tasks_go_with_their_history_and_the_chains_still_verify(db, sql) -> None:
    (a, b, c), old = finished_history(db)
    # work that must stay: an old completion that a live task (in a team nobody here works) depends
    # on, that live task, another live one, and what each agent finished 40 days later, inside the
    # retention window (its latest rating, the head of its chain, names one of those)
    needed = make_task(db, now=at(101))
    t = lifecycle.claim_start(db, a.id, now=at(102))
    assert t.id == needed.id
    lifecycle.result(db, t.id, a.id, t.attempt, {}, 1.0, now=at(103))
    waiting = make_task(db, now=at(104), team="iota", depends_on=[str(needed.id)])
    live = make_task(db, now=at(105), team="iota")
    recent = []
    for agent in (a, b, c):
        make_task(db, now=T0 + 40 * DAY)
        t = lifecycle.claim_start(db, agent.id, now=T0 + 40 * DAY)
        lifecycle.result(db, t.id, agent.id, t.attempt, {}, 1.0, now=T0 + 40 * DAY)
        recent.append(t.id)

    now = T0 + 45 * DAY
    settle(db, now)
    result = retention.prune(db, retention.cutoff(30, now), batch=2, now=now)
    assert result.tasks == len(old)
    assert result.batches >= 3  # two tasks per batch
    for task in old:
        assert count(sql, "tasks", "id = %s", task) == 0
        assert count(sql, "task_events", "task_id = %s", task) == 0
    for table in ("task_votes", "task_reviews", "task_comments", "review_assignments"):
        assert count(sql, table, "task_id = ANY (%s)", old) == 0
    for task in (live.id, needed.id, waiting.id, *recent):
        assert count(sql, "tasks", "id = %s", task) == 1, task
    # every old interaction about a finished task went, from the front of each chain; the heads stay
    assert count(sql, "agent_interactions", "at < %s AND task_id = ANY (%s)", retention.cutoff(30, now), old) == 0
    assert count(sql, "audit_checkpoints") == result.batches
    assert sum(r["tasks"] for r in sql.execute("SELECT tasks FROM phoenix.audit_checkpoints").fetchall()) == len(old)
    report = audit.verify(db)
    assert report.ok, [b.describe() for b in report.broken]
    assert report.checkpoints == result.batches and report.latest_checkpoint["id"] == max(result.checkpoints)
    # a second run finds nothing more and writes no checkpoint
    again = retention.prune(db, retention.cutoff(30, now), batch=2, now=now)
    assert (again.tasks, again.batches) == (0, 0)


@pytest.mark.rolled_back
def test_outbox_rows_the_relay_has_not_assigned_keep_their_payload_when_their_events_go(db, sql) -> None:
    """A task event's outbox row carries no payload until the relay assigns it (migration 0033); a
    relay that is down while retention deletes the events must still publish what they said."""
    _, old = finished_history(db)
    said = payloads_said(sql, old)
    assert len(said) > 2 * len(old)
    assert count(sql, "outbox", "task_id = ANY (%s) AND payload IS NULL AND seq IS NOT NULL", old) == len(said)
    now = T0 + 45 * DAY
    settle(db, now)
    assert retention.prune(db, retention.cutoff(30, now), now=now).tasks == len(old)
    assert count(sql, "task_events", "task_id = ANY (%s)", old) == 0
    outbox.assign(sql, limit=10_000)
    assert payloads_kept(sql, old) == said


@pytest.mark.rolled_back
def test_a_rewritten_checkpoint_or_base_is_found(db, sql) -> None:
    finished_history(db)
    now = T0 + 45 * DAY
    settle(db, now)
    retention.prune(db, retention.cutoff(30, now), now=now)
    assert audit.verify(db).ok
    sql.execute("UPDATE phoenix.audit_chain_bases SET seq = seq + 1 WHERE agent_to = "
                "(SELECT agent_to FROM phoenix.audit_chain_bases ORDER BY agent_to LIMIT 1)")
    faults = {b.fault for b in audit.verify(db).broken}
    assert "base" in faults
    sql.execute("SET session_replication_role = replica")
    sql.execute("UPDATE phoenix.audit_checkpoints SET tasks = tasks + 1")
    sql.execute("SET session_replication_role = DEFAULT")
    assert "checkpoint" in {b.fault for b in audit.verify(db).broken}


def test_checkpoints_and_history_stay_append_only_outside_a_prune(db, sql) -> None:
    (a, _, _), _ = finished_history(db, 1)
    now = T0 + 45 * DAY
    settle(db, now)
    assert retention.prune(db, retention.cutoff(30, now), now=now).batches == 1
    make_task(db, now=now)  # rows to refuse to delete, written after the prune
    t = lifecycle.claim_start(db, a.id, now=now)
    lifecycle.result(db, t.id, a.id, t.attempt, {}, 1.0, now=now)
    for statement in ("DELETE FROM phoenix.audit_checkpoints", "DELETE FROM phoenix.task_events",
                      "DELETE FROM phoenix.agent_interactions", "UPDATE phoenix.audit_checkpoints SET tasks = 0"):
        with pytest.raises(psycopg.Error, match="append-only"):
            sql.execute(statement)
    # the rating written after its agent's whole chain was pruned links to the chain's base
    assert audit.verify(db).ok


@pytest.mark.rolled_back
def test_a_retried_task_is_live_again_and_is_not_pruned(db, sql) -> None:
    (a, _, _), old = finished_history(db, 1)
    failed = old[-2]
    retry.retry(db, failed, now=T0 + 44 * DAY)
    now = T0 + 45 * DAY
    settle(db, now)
    retention.prune(db, retention.cutoff(30, now), now=now)
    assert lifecycle.get(db, failed).status == "open"
    assert audit.verify(db).ok


@pytest.mark.rolled_back
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch": 0}, "batch"),
    ({"batch": 10**9}, "batch"),
    ({"before": T0 + 90 * DAY}, "in the future"),
])
def test_bad_prune_arguments_are_refused_and_change_nothing(db, sql, kwargs, message) -> None:
    finished_history(db, 1)
    before = snapshot(sql)
    args = {"before": retention.cutoff(30, T0 + 45 * DAY), "batch": 10, "now": T0 + 45 * DAY} | kwargs
    with pytest.raises(errors.InvalidInput, match=message):
        retention.prune_batch(db, args["before"], args["batch"], now=args["now"])
    with pytest.raises(errors.InvalidInput, match="at least 7 days"):
        retention.cutoff(1)
    assert snapshot(sql) == before


def test_two_pruners_at_once_delete_each_task_once_and_do_not_deadlock(db, sql) -> None:
    (a, _, _), _ = finished_history(db, 2)
    for i in range(40):
        make_task(db, now=at(200 + i))
    for i in range(40):
        t = lifecycle.claim_start(db, a.id, now=at(300 + i))
        lifecycle.result(db, t.id, a.id, t.attempt, {}, 1.0, now=at(300 + i))
    eligible = count(sql, "tasks", "status IN ('complete', 'failed', 'cancelled')")
    now = T0 + 45 * DAY
    settle(db, now)
    cutoff = retention.cutoff(30, now)
    runs = run_together([lambda: retention.prune(db, cutoff, batch=3, now=now) for _ in range(4)])
    assert not [r for r in runs if isinstance(r, Exception)], runs
    # another beat's batch may skip while one holds the lock; whatever is left, one more run takes
    rest = retention.prune(db, cutoff, batch=3, now=now)
    assert sum(r.tasks for r in runs) + rest.tasks == eligible
    assert count(sql, "tasks") == 0
    assert sum(r["tasks"] for r in sql.execute("SELECT tasks FROM phoenix.audit_checkpoints").fetchall()) == eligible
    assert audit.verify(db).ok


def test_a_relay_assigning_while_retention_prunes_publishes_what_every_event_said(db, sql, url) -> None:
    """The relay builds a task event's payload when it assigns the row; retention builds it for the
    rows not yet assigned before it deletes their events. Run together, a row at a time against a
    tree at a time, every row ends with its event's payload, whichever came first."""
    for i in range(30):
        make_task(db, now=at(400 + i))
    worker = make_agent(db, now=T0)
    for i in range(30):
        t = lifecycle.claim_start(db, worker.id, now=at(500 + i))
        lifecycle.result(db, t.id, worker.id, t.attempt, {"i": i}, 1.0, now=at(500 + i))
    said = payloads_said(sql)
    assert len(said) == 30 * 5 and count(sql, "outbox", "stream_ms IS NULL AND seq IS NOT NULL") == len(said)
    now = T0 + 45 * DAY
    settle(db, now)
    pruning = threading.Event()

    def relay() -> int:
        n = 0
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            while pruning.is_set() or n < len(said):
                got = outbox.assign(conn, limit=1)
                n += got
                if not got and not pruning.is_set():
                    break
        return n

    def prune() -> int:
        try:
            return retention.prune(db, retention.cutoff(30, now), batch=1, now=now).tasks
        finally:
            pruning.clear()

    pruning.set()
    assigned, pruned = run_together([relay, prune])
    assert pruned == 30, pruned
    assert count(sql, "task_events", "true") == 0
    assigned += outbox.assign(sql, limit=10_000)
    assert assigned >= len(said)
    assert payloads_kept(sql) == said


def test_the_beat_job_prunes_by_the_setting_and_zero_keeps_everything(db, sql) -> None:
    finished_history(db, 2)
    now = T0 + 45 * DAY
    settle(db, now)
    assert jobs.task_retention(db, 0, now) == 0
    assert jobs.task_retention(db, 60, now) == 0  # nothing is 60 days old yet
    assert jobs.task_retention(db, 30, now) == 4
    assert count(sql, "tasks") == 0


@pytest.mark.rolled_back
def test_silent_agents_are_decommissioned_after_the_setting(db, sql) -> None:
    quiet = make_agent(db, now=T0)
    busy = make_agent(db, now=T0)
    alive = make_agent(db, now=T0)
    person, _ = members.add(db, "reviewer-person", quiet.team, now=T0)  # a member sends no heartbeat: never taken
    make_task(db, now=T0)
    lifecycle.claim_start(db, busy.id, lease_seconds=86_400, now=at(1))  # holds a claim: left for the sweep
    agents.heartbeat(db, alive.id, now=T0 + timedelta(minutes=90))
    hour = 3600
    assert jobs.decommission(db, 0, T0 + 3 * DAY) == 0  # 0 disables
    assert jobs.decommission(db, hour, T0 + timedelta(minutes=30)) == 0
    assert jobs.decommission(db, hour, T0 + timedelta(hours=2)) == 1
    assert agents.get(db, quiet.id).decommissioned_at == T0 + timedelta(hours=2)
    assert agents.get(db, busy.id).decommissioned_at is None
    assert agents.get(db, alive.id).decommissioned_at is None
    # the lease sweep frees the claim; the next run takes the agent (and the one gone quiet since)
    jobs.lease_sweep(db, T0 + 2 * DAY)
    assert jobs.decommission(db, hour, T0 + 2 * DAY) == 2
    assert agents.get(db, busy.id).decommissioned_at is not None
    assert agents.get(db, person.id).decommissioned_at is None
    with pytest.raises(errors.InvalidInput):
        agents.decommission_stale(db, -1)
