"""One statement renews the leases of all the claims of a thread pool's process
(``lifecycle.renew_held``, ``phoenix.task_renew_held``, the Renewer with a holder token): it renews
what the pool's token holds and whose attempt is live, and names every other claim with why."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from phoenix_board.board import agents, delegation, errors, lifecycle
from phoenix_board.board.db import acting_as
from phoenix_board.workers.runtime import Renewer
from tests.board.conftest import raised, refused, run_together
from tests.conftest import make_task


def _held(db, token, n, prefix, team="iota"):
    return [agents.register(db, {"codename": f"{prefix}-{i}", "team": team}, holder=token)[0].id for i in range(n)]


def _leases(sql, tasks):
    rows = sql.execute("SELECT id, lease_expires_at, status::text AS status FROM phoenix.tasks WHERE id = ANY (%s)",
                       (list(tasks),)).fetchall()
    return {r["id"]: r for r in rows}


def test_one_statement_renews_the_pools_live_claims_and_names_each_one_it_did_not(db, agent_db, sql):
    mine, other = uuid.uuid4(), uuid.uuid4()
    live = _held(db, mine, 3, "renewed")
    finished, moved_on, taken = _held(db, mine, 1, "finished")[0], _held(db, mine, 1, "moved")[0], _held(db, other, 1, "taken")[0]
    for _ in range(6):
        make_task(db, team="iota")
    claims = {a: lifecycle.claim_start(db, a, lease_seconds=30) for a in [*live, finished, moved_on, taken]}
    lifecycle.result(db, claims[finished].id, finished, claims[finished].attempt)  # its attempt is over
    delegation.cancel(db, claims[moved_on].id, reason="not wanted")  # the task moved on without it
    ghost = uuid.uuid4()
    asked = [(c.id, a, c.attempt) for a, c in claims.items()] + [(ghost, live[0], 1)]
    before = _leases(sql, [c.id for c in claims.values()])
    # as the agent role naming no agent: the pool's token is what it holds its agents by
    lost = lifecycle.renew_held(agent_db, mine, asked, lease_seconds=600)
    why = {(task, agent): reason for task, agent, _, reason in lost}
    assert set(why) == {(claims[finished].id, finished), (claims[moved_on].id, moved_on), (claims[taken].id, taken),
                        (ghost, live[0])}
    assert "is over (the task is complete" in why[(claims[finished].id, finished)]
    assert "is over (the task is cancelled" in why[(claims[moved_on].id, moved_on)]
    assert "no longer held by this pool" in why[(claims[taken].id, taken)]
    assert f"task {ghost} not found" in why[(ghost, live[0])]
    after = _leases(sql, [c.id for c in claims.values()])
    for agent in live:  # renewed: ten minutes from now, where the claim gave thirty seconds
        task = claims[agent].id
        assert after[task]["lease_expires_at"] - before[task]["lease_expires_at"] > timedelta(minutes=9)
    for agent in (finished, moved_on, taken):  # untouched
        task = claims[agent].id
        assert after[task]["lease_expires_at"] == before[task]["lease_expires_at"]


def test_bad_calls_are_refused_in_one_line_and_change_nothing(db, agent_db, sql):
    token = uuid.uuid4()
    one, two = _held(db, token, 2, "refused")
    make_task(db, team="iota")
    make_task(db, team="iota")
    a, b = lifecycle.claim_start(db, one), lifecycle.claim_start(db, two)
    claims = [(a.id, one, a.attempt), (b.id, two, b.attempt)]
    refused(sql, errors.InvalidInput, "holder None is not a valid id", lambda: lifecycle.renew_held(db, None, claims))
    # the function itself, as any program of the agent role could call it
    refused(sql, errors.InvalidInput, "needs the holder token", lambda: agent_db.all(
        "task_renew_held", holder=None, tasks=[a.id], agents=[one], attempts=[a.attempt], lease=30.0, now=None))
    refused(sql, errors.InvalidInput, "lists of the same length", lambda: agent_db.all(
        "task_renew_held", holder=token, tasks=[a.id, b.id], agents=[one], attempts=[a.attempt], lease=30.0, now=None))
    refused(sql, errors.InvalidInput, "lease", lambda: lifecycle.renew_held(db, token, claims, lease_seconds=-1))
    refused(sql, errors.InvalidInput, "attempt", lambda: lifecycle.renew_held(db, token, [(a.id, one, -1)]))
    refused(sql, errors.InvalidInput, "task", lambda: lifecycle.renew_held(db, token, [("nope", one, 1)]))

    def as_one() -> None:
        with acting_as(one):  # a transaction that names its agent renews that agent's claims only
            lifecycle.renew_held(agent_db, token, claims)

    refused(sql, errors.Forbidden, "acts for agent", as_one)
    with acting_as(one):
        assert lifecycle.renew_held(agent_db, token, claims[:1]) == []
    assert lifecycle.renew_held(db, token, []) == []


def test_renewals_racing_results_and_the_sweep_never_deadlock_nor_revive_an_ended_claim(db, sql):
    """Real threads: one renews all the pool's claims over and over while others complete the
    claims and the sweep releases those it finds expired. Counted from the database after: every
    task ended or is still held, and no ended task has a lease."""
    token = uuid.uuid4()
    crew = _held(db, token, 24, "race")
    for _ in range(24):
        make_task(db, team="iota")
    claims = {a: lifecycle.claim_start(db, a, lease_seconds=30) for a in crew}
    asked = [(c.id, a, c.attempt) for a, c in claims.items()]
    stop = threading.Event()
    lost_seen: list[tuple] = []

    def renew_loop() -> int:
        rounds = 0
        while not stop.is_set() or rounds < 3:
            lost_seen.extend(lifecycle.renew_held(db, token, asked, lease_seconds=30))
            rounds += 1
        return rounds

    def finish(agents_: list) -> int:
        for a in agents_:
            lifecycle.result(db, claims[a].id, a, claims[a].attempt)
            time.sleep(0.005)
        return len(agents_)

    def sweep() -> int:
        return sum(len(lifecycle.release_expired(db)) for _ in range(20))

    def stopper() -> None:
        time.sleep(1.5)
        stop.set()

    results = run_together([renew_loop, lambda: finish(crew[:8]), lambda: finish(crew[8:16]), sweep, stopper])
    assert raised(results) == [], raised(results)
    rows = sql.execute("SELECT status::text AS status, lease_expires_at FROM phoenix.tasks WHERE id = ANY (%s)",
                       ([c.id for c in claims.values()],)).fetchall()
    assert sorted(r["status"] for r in rows) == ["complete"] * 16 + ["in_progress"] * 8
    assert all(r["lease_expires_at"] is None for r in rows if r["status"] == "complete")
    assert all(r["lease_expires_at"] is not None for r in rows if r["status"] == "in_progress")
    # every claim reported lost is one that was completed
    completed = {claims[a].id for a in crew[:16]}
    assert {task for task, *_ in lost_seen} <= completed


def test_a_pools_renewer_keeps_its_claims_alive_and_marks_the_lost_ones(db, sql):
    token = uuid.uuid4()
    crew = _held(db, token, 3, "kept")
    for _ in range(3):
        make_task(db, team="iota")
    lease = 0.9  # renewed every 0.3 s
    claims = {a: lifecycle.claim_start(db, a, lease_seconds=lease) for a in crew}
    lost = {a: threading.Event() for a in crew}
    renewer = Renewer(db, lease, holder=token)
    try:
        for a, c in claims.items():
            renewer.hold(a, c.id, c.attempt, lost[a])
        gone = crew[2]
        delegation.cancel(db, claims[gone].id, reason="pulled")
        assert lost[gone].wait(5), "the renewer never found the cancelled claim lost"
        time.sleep(2 * lease)  # past the claims' first lease: only renewals keep them
        rows = _leases(sql, [claims[a].id for a in crew[:2]])
        now = sql.execute("SELECT now() AS t").fetchone()["t"]
        assert all(r["status"] == "in_progress" and r["lease_expires_at"] > now for r in rows.values())
        assert lifecycle.release_expired(db) == []
        assert not lost[crew[0]].is_set() and not lost[crew[1]].is_set()
    finally:
        renewer.close()


def test_a_claim_let_go_while_the_round_ran_is_not_reported_lost(db):
    """The renewer reads its claims, then renews them: a result that comes in between ends the
    claim normally, so its refusal is no loss (no warning, its handler's context unchanged); a claim
    still held and refused is lost."""
    token = uuid.uuid4()
    done, pulled = _held(db, token, 2, "between")
    make_task(db, team="iota")
    make_task(db, team="iota")
    claims = {a: lifecycle.claim_start(db, a) for a in (done, pulled)}
    events = {a: threading.Event() for a in claims}
    renewer = Renewer(db, 600.0, holder=token)  # a long lease: its own thread stays out of the way
    try:
        for a, c in claims.items():
            renewer.hold(a, c.id, c.attempt, events[a])
        in_hand = list(renewer._claims.items())  # what a round reads first
        lifecycle.result(db, claims[done].id, done, claims[done].attempt)  # as the agent loop: the result,
        renewer.release(done, claims[done].id, claims[done].attempt)  # then the renewer lets it go
        delegation.cancel(db, claims[pulled].id, reason="pulled")
        renewer._renew_held(in_hand)
        assert not events[done].is_set() and events[pulled].is_set()
        assert renewer._claims == {}
    finally:
        renewer.close()
