"""Hormone cascades (docs/concepts/cascades.md): bounds, attenuation, once per agent, the
refractory window, levels within bounds, idempotent replays, event-triggered cascades and no
deadlock under concurrency."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import constants, errors, federation, lifecycle
from tests.board.conftest import raised, run_together
from tests.conftest import make_agent, make_task, snapshot

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RHO = constants.CASCADE_ATTENUATION
W_PARTNER = constants.CASCADE_WEIGHT_PARTNER
W_HIERARCHY = constants.CASCADE_WEIGHT_HIERARCHY


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def level(sql, agent, hormone: str) -> float:
    return sql.execute("SELECT (hormone_levels ->> %s)::float8 AS v FROM phoenix.agents WHERE id = %s",
                       (hormone, agent.id)).fetchone()["v"]


def syncs(sql, cascade_id) -> dict:
    """The cascade's sync rows by receiver."""
    rows = sql.execute("SELECT agent_from, agent_to, hormone_exchange FROM phoenix.agent_interactions "
                       "WHERE interaction_type = 'sync' AND hormone_exchange ->> 'cascade_id' = %s",
                       (str(cascade_id),)).fetchall()
    out = {}
    for r in rows:
        assert r["agent_to"] not in out, "an agent synced twice in one cascade"
        out[r["agent_to"]] = r
    return out


def full_snapshot(sql) -> dict:
    out = snapshot(sql)
    out["hormone_cascades"] = sql.execute("SELECT count(*) AS n, coalesce(md5(string_agg(c::text, '|' ORDER BY c::text)), '') AS h "
                                          "FROM phoenix.hormone_cascades c").fetchone()
    out["outbox"] = sql.execute("SELECT count(*) AS n FROM phoenix.outbox").fetchone()
    return out


@pytest.fixture
def graph(db):
    """s has three partners p1..p3 and three subordinates x1..x3 (six edges, more than the fan-out);
    p1 - q and q - r are pairs (a chain deeper than the depth); p2 - p1 is a pair (a triangle)."""
    names = ["s", "p1", "p2", "p3", "x1", "x2", "x3", "q", "r"]
    g = {n: make_agent(db, now=at(0)) for n in names}
    for a, b in [("s", "p1"), ("s", "p2"), ("s", "p3"), ("p1", "q"), ("q", "r"), ("p1", "p2")]:
        federation.pair(db, g[a].id, g[b].id)
    for x in ("x1", "x2", "x3"):
        federation.supervise(db, g["s"].id, g[x].id)
    return g


@pytest.mark.rolled_back
def test_a_cascade_attenuates_per_hop_within_depth_and_fan_out(db, sql, graph):
    g = graph
    before = {n: level(sql, a, "dopamine") for n, a in g.items()}
    cid = uuid.uuid4()
    row = federation.cascade(db, "dopamine", 1.0, agent=g["s"].codename, cascade_id=cid, now=at(100))
    got = syncs(sql, cid)
    assert row["reached"] == len(got)
    hop = {a: r["hormone_exchange"]["hop"] for a, r in got.items()}
    # hop 1: the fan-out keeps the three partners (strongest) and the lowest-id subordinate
    first = {a for a, h in hop.items() if h == 1}
    xs = sorted((g["x1"].id, g["x2"].id, g["x3"].id))
    assert len(first) == constants.CASCADE_FANOUT_MAX
    assert first == {g["p1"].id, g["p2"].id, g["p3"].id, xs[0]}
    # p2 is p1's partner too, yet it is reached once, at hop 1; q at hop 2 through p1; r is too deep
    assert hop[g["q"].id] == 2 and got[g["q"].id]["agent_from"] == g["p1"].id
    assert g["r"].id not in got
    assert max(hop.values()) <= constants.CASCADE_DEPTH_MAX
    # attenuation: 1.0 at the source, rho * w at hop 1, (rho * w)^2 at hop 2
    assert level(sql, g["s"], "dopamine") == pytest.approx(before["s"] + 1.0)
    assert level(sql, g["p3"], "dopamine") == pytest.approx(before["p3"] + RHO * W_PARTNER)
    x_first = next(n for n in ("x1", "x2", "x3") if g[n].id == xs[0])
    assert level(sql, g[x_first], "dopamine") == pytest.approx(before[x_first] + RHO * W_HIERARCHY)
    assert level(sql, g["q"], "dopamine") == pytest.approx(before["q"] + (RHO * W_PARTNER) ** 2)
    assert level(sql, g["r"], "dopamine") == before["r"]
    exchange = got[g["q"].id]["hormone_exchange"]
    assert exchange["hormone"] == "dopamine" and exchange["after"] - exchange["before"] == pytest.approx(exchange["delta"])


@pytest.mark.rolled_back
def test_levels_stay_within_bounds(db, sql, graph):
    g = graph
    sql.execute("UPDATE phoenix.agents SET hormone_levels = jsonb_set(hormone_levels, '{cortisol}', %s::jsonb)",
                (json.dumps(constants.HORMONE_MAX - 0.1),))
    federation.cascade(db, "cortisol", 1.0, agent=g["s"].id, now=at(100))
    sql.execute("UPDATE phoenix.agents SET hormone_levels = jsonb_set(hormone_levels, '{oxytocin}', '0.05')")
    federation.cascade(db, "oxytocin", -1.0, agent=g["s"].id, now=at(100))
    for a in g.values():
        assert level(sql, a, "cortisol") <= constants.HORMONE_MAX
        assert level(sql, a, "oxytocin") >= constants.HORMONE_MIN
    assert level(sql, g["s"], "cortisol") == constants.HORMONE_MAX
    assert level(sql, g["s"], "oxytocin") == constants.HORMONE_MIN


@pytest.mark.rolled_back
def test_replaying_a_cascade_id_changes_nothing(db, sql, graph):
    cid = uuid.uuid4()
    first = federation.cascade(db, "adrenaline", 0.5, team="alpha_delta", cascade_id=cid, now=at(100))
    state = full_snapshot(sql)
    again = federation.cascade(db, "adrenaline", 0.5, team="alpha_delta", cascade_id=cid, now=at(101))
    assert again == first
    assert full_snapshot(sql) == state
    # a team cascade starts from every agent of the team: each of them changed once
    assert first["reached"] == len(graph) == len(syncs(sql, cid))


@pytest.mark.rolled_back
def test_the_refractory_window_skips_recently_synced_agents(db, sql, graph):
    g = graph
    one = federation.cascade(db, "oxytocin", 0.5, agent=g["s"].id, now=at(100))
    reached = set(syncs(sql, one["id"]))
    two = federation.cascade(db, "oxytocin", 0.5, agent=g["s"].id, now=at(100 + constants.CASCADE_REFRACTORY_SECONDS / 2))
    # the source is the operator's to stimulate; every receiver of the first is still refractory,
    # so the fan-out goes to the subordinates the first left out
    second = set(syncs(sql, two["id"]))
    assert g["s"].id in second and not (second & (reached - {g["s"].id}))
    assert second == {g["s"].id, g["x1"].id, g["x2"].id, g["x3"].id} - (reached - {g["s"].id})
    other = federation.cascade(db, "dopamine", 0.5, agent=g["s"].id, now=at(100 + constants.CASCADE_REFRACTORY_SECONDS / 2))
    assert set(syncs(sql, other["id"])) == reached  # the window is per hormone
    three = federation.cascade(db, "oxytocin", 0.5, agent=g["s"].id, now=at(101 + constants.CASCADE_REFRACTORY_SECONDS))
    assert set(syncs(sql, three["id"])) == reached


@pytest.mark.rolled_back
@pytest.mark.parametrize("kwargs, error", [
    ({"hormone": "serotonin", "intensity": 0.5, "team": "alpha_delta"}, errors.InvalidInput),
    ({"hormone": "dopamine", "intensity": 0, "team": "alpha_delta"}, errors.InvalidInput),
    ({"hormone": "dopamine", "intensity": 1.5, "team": "alpha_delta"}, errors.InvalidInput),
    ({"hormone": "dopamine", "intensity": float("nan"), "team": "alpha_delta"}, errors.InvalidInput),
    ({"hormone": "dopamine", "intensity": 0.5}, errors.InvalidInput),
    ({"hormone": "dopamine", "intensity": 0.5, "team": "nope"}, errors.NotFound),
    ({"hormone": "dopamine", "intensity": 0.5, "agent": "nobody-here"}, errors.NotFound),
])
def test_bad_cascades_are_refused_and_change_nothing(db, sql, graph, kwargs, error):
    state = full_snapshot(sql)
    with pytest.raises(error) as got:
        federation.cascade(db, **kwargs)
    assert "\n" not in got.value.message
    assert full_snapshot(sql) == state


@pytest.mark.rolled_back
def test_the_sql_function_checks_its_input_too(db, sql, graph):
    state = full_snapshot(sql)
    with pytest.raises(errors.InvalidInput, match="intensity"):
        db.one("hormone_cascade", id=uuid.uuid4(), hormone="dopamine", intensity=9.0, team="alpha_delta", agent=None, now=None)
    assert full_snapshot(sql) == state


@pytest.mark.rolled_back
def test_a_strong_event_starts_a_cascade_that_the_beat_spreads_once(db, sql):
    worker, partner, bystander = make_agent(db, now=at(0)), make_agent(db, now=at(0)), make_agent(db, now=at(0))
    federation.pair(db, worker.id, partner.id)
    task = make_task(db, now=at(1), max_attempts=3)
    claimed = lifecycle.claim(db, worker.id, now=at(2))
    before = level(sql, partner, "cortisol")
    lifecycle.fail(db, task.id, worker.id, claimed.attempt, "broke", now=at(3))  # cortisol +0.4: strong
    pending = sql.execute("SELECT * FROM phoenix.hormone_cascades WHERE applied_at IS NULL").fetchall()
    assert [(p["kind"], p["hormone"], p["sources"]) for p in pending] == [("event", "cortisol", [worker.id])]
    assert pending[0]["intensity"] == pytest.approx(constants.CORTISOL_PER_FAILURE)
    assert level(sql, partner, "cortisol") == before  # the event's transaction spreads nothing
    assert federation.run_pending(db, now=at(4)) == 1
    assert level(sql, partner, "cortisol") == pytest.approx(before + constants.CORTISOL_PER_FAILURE * RHO * W_PARTNER)
    got = syncs(sql, pending[0]["id"])
    assert set(got) == {partner.id}  # the source had its change from the event itself
    assert got[partner.id]["agent_from"] == worker.id
    state = full_snapshot(sql)
    assert federation.run_pending(db, now=at(5)) == 0
    db.one("hormone_cascade_run", id=pending[0]["id"], now=at(6))
    assert full_snapshot(sql) == state
    assert level(sql, bystander, "cortisol") == constants.BASELINE_CORTISOL


@pytest.mark.rolled_back
def test_a_weak_event_starts_no_cascade(db, sql):
    author, voter = make_agent(db), make_agent(db)
    task = make_task(db, created_by=str(author.id))
    from phoenix_board.board import votes

    votes.vote(db, task.id, voter.id, 1)  # oxytocin +0.1 to the author: below the trigger
    assert sql.execute("SELECT count(*) AS n FROM phoenix.hormone_cascades").fetchone()["n"] == 0


def test_concurrent_cascades_and_events_never_deadlock(db, sql, caplog):
    caplog.set_level(logging.WARNING, logger="phoenix_board.board.db")
    ring = [make_agent(db) for _ in range(12)]
    # overlapping graph: a ring of pairs and two supervisors over everyone else
    for i in range(0, 12, 2):
        federation.pair(db, ring[i].id, ring[i + 1].id)
    for i in range(1, 12, 2):
        federation.pair(db, ring[i].id, ring[(i + 1) % 12].id)
    for i in range(2, 12):
        federation.supervise(db, ring[i % 2].id, ring[i].id)
    workers = ring[:6]
    tasks = [make_task(db, max_attempts=5) for _ in workers]
    claims = [lifecycle.claim(db, w.id) for w in workers]
    hormones = ("dopamine", "oxytocin", "adrenaline", "cortisol")
    calls = []
    for i in range(16):
        calls.append(lambda i=i: federation.cascade(db, hormones[i % 4], 0.3 if i % 3 else -0.3,
                                                    agent=ring[(i * 5) % 12].id))
    for w, c in zip(workers, claims):
        calls.append(lambda w=w, c=c: lifecycle.fail(db, c.id, w.id, c.attempt, "broke"))
    calls += [lambda: federation.run_pending(db) for _ in range(4)]
    results = run_together(calls)
    assert raised(results) == []
    federation.run_pending(db)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.hormone_cascades WHERE applied_at IS NULL").fetchone()["n"] == 0
    assert sql.execute("SELECT count(*) AS n FROM phoenix.hormone_cascades").fetchone()["n"] == 16 + len(tasks)
    assert not [r for r in caplog.records if "40P01" in r.getMessage()]
    for a in ring:
        for h in hormones:
            assert constants.HORMONE_MIN <= level(sql, a, h) <= constants.HORMONE_MAX
