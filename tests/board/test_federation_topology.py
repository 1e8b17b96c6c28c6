"""Partners and supervisors: pairing, the supervisor forest, reviews within a pair, and the
entanglement figures that feed the timeline (docs/concepts/partners.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, constants, errors, federation, lifecycle
from tests.conftest import make_agent, make_task, snapshot

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(sql, agent):
    return sql.execute("SELECT * FROM phoenix.agents WHERE id = %s", (agent.id,)).fetchone()


def test_pairing_is_symmetric_idempotent_and_undone_by_unpair(db, sql):
    a, b = make_agent(db), make_agent(db)
    federation.pair(db, a.codename, b.codename)
    federation.pair(db, b.id, a.id)  # again, either way round: nothing changes
    assert row(sql, a)["paired_agents"] == [b.id]
    assert row(sql, b)["paired_agents"] == [a.id]
    assert federation.topology(db, a.id)["partners"] == [b.codename]
    federation.unpair(db, b.codename, a.codename)
    assert row(sql, a)["paired_agents"] == [] and row(sql, b)["paired_agents"] == []


def test_pairing_refuses_past_the_maximum_and_changes_nothing(db, sql):
    hub = make_agent(db)
    others = [make_agent(db) for _ in range(constants.PARTNERS_MAX + 1)]
    for other in others[:-1]:
        federation.pair(db, hub.id, other.id)
    before = snapshot(sql)
    with pytest.raises(errors.Conflict, match=f"already has {constants.PARTNERS_MAX} partners"):
        federation.pair(db, others[-1].id, hub.id)
    assert snapshot(sql) == before
    assert len(row(sql, hub)["paired_agents"]) == constants.PARTNERS_MAX


@pytest.mark.parametrize("call, error", [
    (lambda db, a, b: federation.pair(db, a.id, a.id), errors.InvalidInput),
    (lambda db, a, b: federation.unpair(db, a.id, b.id), errors.NotFound),
    (lambda db, a, b: federation.supervise(db, a.id, a.id), errors.InvalidInput),
    (lambda db, a, b: federation.supervise(db, None, a.id), errors.NotFound),
    (lambda db, a, b: federation.pair(db, a.id, "nobody-here"), errors.NotFound),
])
def test_bad_topology_requests_are_refused_in_one_line_and_change_nothing(db, sql, call, error):
    a, b = make_agent(db), make_agent(db)
    before = snapshot(sql)
    with pytest.raises(error) as raised:
        call(db, a, b)
    assert "\n" not in raised.value.message
    assert snapshot(sql) == before


def test_a_decommissioned_agent_cannot_be_paired(db):
    a, b = make_agent(db), make_agent(db)
    from phoenix_board.board import agents

    agents.decommission(db, b.id)
    with pytest.raises(errors.Forbidden, match="decommissioned"):
        federation.pair(db, a.id, b.id)


def test_supervisors_form_a_forest_and_a_cycle_is_refused(db, sql):
    a, b, c = make_agent(db), make_agent(db), make_agent(db)
    federation.supervise(db, a.codename, b.codename)  # a -> b
    federation.supervise(db, b.codename, c.codename)  # b -> c
    assert row(sql, a)["subordinate_agents"] == [b.id]
    assert row(sql, c)["supervisor_agent"] == b.id
    before = snapshot(sql)
    with pytest.raises(errors.Conflict) as raised:
        federation.supervise(db, c.codename, a.codename)  # c -> a would close a -> b -> c -> a
    message = raised.value.message
    assert "\n" not in message and "cycle" in message
    assert f"{a.codename} -> {b.codename} -> {c.codename} -> {a.codename}" in message
    assert snapshot(sql) == before


def test_moving_and_removing_a_supervisor_keeps_both_sides_in_step(db, sql):
    a, b, c = make_agent(db), make_agent(db), make_agent(db)
    federation.supervise(db, a.id, c.id)
    federation.supervise(db, b.id, c.id)  # c moves from a to b
    assert row(sql, a)["subordinate_agents"] == []
    assert row(sql, b)["subordinate_agents"] == [c.id]
    assert federation.topology(db, c.id)["supervisor"] == b.codename
    federation.supervise(db, None, c.id)
    assert row(sql, c)["supervisor_agent"] is None and row(sql, b)["subordinate_agents"] == []


def test_demo_topology_is_idempotent(db, sql):
    agents_ = [make_agent(db, team="iota") for _ in range(5)]
    first = federation.demo_topology(db, "iota")
    state = snapshot(sql)
    assert federation.demo_topology(db, "iota")["supervisor"] == first["supervisor"]
    assert snapshot(sql) == state
    assert len(first["pairs"]) == 2
    head = min(agents_, key=lambda a: a.codename)
    assert len(row(sql, head)["subordinate_agents"]) == 4


# --- reviews within a pair ----------------------------------------------------------------------


def in_review(db, worker, quorum):
    task = make_task(db, review_quorum=quorum)
    c = lifecycle.claim(db, worker.id)
    assert c.id == task.id
    lifecycle.result(db, task.id, worker.id, c.attempt, {"done": True}, 0.9)
    return task


def test_a_pair_alone_cannot_approve_its_work_but_one_outside_vote_completes_it(db):
    worker, partner, outsider = make_agent(db), make_agent(db), make_agent(db)
    federation.pair(db, worker.id, partner.id)
    task = in_review(db, worker, quorum=1)
    t, decided = lifecycle.review(db, task.id, partner.id, 1)
    assert decided is None and t.status == "review"  # quorum met, but only from inside the pair
    t, decided = lifecycle.review(db, task.id, outsider.id, 1)
    assert decided == "approved" and t.status == "complete"


def test_a_partner_may_reject_alone(db):
    worker, partner = make_agent(db), make_agent(db)
    federation.pair(db, worker.id, partner.id)
    task = in_review(db, worker, quorum=1)
    t, decided = lifecycle.review(db, task.id, partner.id, -1)
    assert decided == "rejected"


def test_each_reviewer_is_rated_once_per_attempt(db, sql):
    worker, partner, r1, r2 = (make_agent(db) for _ in range(4))
    federation.pair(db, worker.id, partner.id)
    task = in_review(db, worker, quorum=1)
    # the quorum is met by the partner's verdict but the decision waits for r1's: the partner is
    # rated when the attempt is decided, once
    assert lifecycle.review(db, task.id, partner.id, 1)[1] is None
    assert lifecycle.review(db, task.id, r1.id, 1)[1] == "approved"
    with pytest.raises(errors.IllegalTransition):
        lifecycle.review(db, task.id, r2.id, 1)  # decided already
    rated = sql.execute("SELECT agent_to, count(*) AS n FROM phoenix.agent_interactions "
                        "WHERE interaction_type = 'consensus' AND task_id = %s GROUP BY agent_to", (task.id,)).fetchall()
    assert {r["agent_to"]: r["n"] for r in rated} == {partner.id: 1, r1.id: 1}


def test_partners_are_asked_to_review_first_with_one_agent_from_outside_the_pair(db, sql):
    worker, partner = make_agent(db), make_agent(db)
    others = [make_agent(db) for _ in range(4)]
    federation.pair(db, worker.id, partner.id)
    picked = db.all("agents_pick_reviewers", team="alpha_delta", category="general", exclude=worker.id, n=1)
    assert [p["id"] for p in picked][0] == partner.id
    assert len(picked) == 2 and picked[1]["id"] in {o.id for o in others}
    picked = db.all("agents_pick_reviewers", team="alpha_delta", category="general", exclude=worker.id, n=3)
    assert picked[0]["id"] == partner.id and len(picked) == 3


# --- entanglement ---------------------------------------------------------------------------------


def test_entanglement_follows_the_shared_record_and_feeds_the_timeline(db, sql):
    a, b, c, outsider = (make_agent(db, now=at(0)) for _ in range(4))
    federation.pair(db, a.id, b.id)
    federation.pair(db, a.id, c.id)
    # a and b review each other's work four times, all approving; a and c share nothing
    for i in range(4):
        worker, reviewer = (a, b) if i % 2 == 0 else (b, a)
        task = make_task(db, now=at(10 * i), review_quorum=1)
        claimed = lifecycle.claim(db, worker.id, now=at(10 * i + 1))
        assert claimed.id == task.id
        lifecycle.result(db, task.id, worker.id, claimed.attempt, {}, 1.0, now=at(10 * i + 2))
        lifecycle.review(db, task.id, reviewer.id, 1, now=at(10 * i + 3))
        _, decided = lifecycle.review(db, task.id, outsider.id, 1, now=at(10 * i + 4))
        assert decided == "approved"
    figures = {frozenset((p["agent_a"], p["agent_b"])): p for p in federation.pairs(db, now=at(40))}
    ab, ac = figures[frozenset((a.id, b.id))], figures[frozenset((a.id, c.id))]
    n = ab["shared"]
    assert n == 4
    k = constants.ENTANGLEMENT_EVIDENCE_SCALE
    assert ab["entanglement_strength"] == pytest.approx((n + 1) / (n + 2) * n / (n + k))
    assert ab["coherence_time"] == timedelta(seconds=30)  # first shared review at 3 s, last at 33 s
    assert ac["shared"] == 0 and ac["entanglement_strength"] == 0
    assert ab["entanglement_strength"] >= constants.ENTANGLEMENT_PAIR_MIN
    for agent in (a, b, c, outsider):
        agents.heartbeat(db, agent.id, now=at(40))
    sql.execute("SELECT phoenix.consciousness_snapshot(%s, %s)", (at(40), at(40)))
    rows = {r["team"]: r for r in sql.execute(
        "SELECT team, entanglement_pairs, coherence_average FROM phoenix.consciousness_timeline WHERE time = %s",
        (at(40),)).fetchall()}
    assert rows["alpha_delta"]["entanglement_pairs"] == 1
    assert rows["alpha_delta"]["coherence_average"] == timedelta(seconds=30)
    assert rows["global"]["entanglement_pairs"] == 1
