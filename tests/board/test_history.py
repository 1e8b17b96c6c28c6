"""An agent's history for charts (board/history.py): the beat's samples of hormones and trust, their
retention and thinning, and the interactions and cascades an agent took part in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import constants, errors, federation, history, lifecycle, members
from tests.conftest import make_agent, make_task


def _at(sql, agent_id):
    return [r["at"] for r in sql.execute("SELECT at FROM phoenix.agent_history WHERE agent_id = %s ORDER BY at",
                                         (agent_id,)).fetchall()]


@pytest.mark.rolled_back
def test_a_sample_per_live_agent_and_member_per_tick(db, sql):
    t0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    live = make_agent(db, now=t0)
    dead = make_agent(db, now=t0 - timedelta(hours=1))
    ada, _ = members.add(db, "ada", "alpha_delta", now=t0 - timedelta(hours=1))
    gone = make_agent(db, now=t0)
    from phoenix_board.board import agents

    agents.decommission(db, gone.id, now=t0)
    assert history.sample(db, now=t0 + timedelta(seconds=5)) == 2
    assert history.sample(db, now=t0 + timedelta(seconds=20)) == 0  # the same tick: a second beat writes nothing
    assert _at(sql, live.id) == [t0] and _at(sql, ada.id) == [t0]
    assert _at(sql, dead.id) == [] and _at(sql, gone.id) == []


@pytest.mark.rolled_back
def test_series_follows_a_change_and_ends_at_the_present(db):
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)  # on a tick
    agent = make_agent(db, now=t0)
    history.sample(db, now=t0)
    task = make_task(db, now=t0)
    claim = lifecycle.claim(db, agent.id, now=t0)
    lifecycle.result(db, task.id, agent.id, claim.attempt, {}, 1.0, now=t0 + timedelta(seconds=30))
    # the sample reads the agent's stored row: keep it live at the second tick
    lifecycle.claim(db, agent.id, now=t0 + timedelta(seconds=61))
    history.sample(db, now=t0 + timedelta(seconds=61))
    points = history.series(db, agent.id, t0 - timedelta(minutes=1))
    assert len(points) == 3  # two samples and the value now
    assert points[1]["dopamine"] > points[0]["dopamine"]  # the completion's reward
    assert points[1]["trust"] > points[0]["trust"]
    assert set(points[0]) == {"at", "dopamine", "oxytocin", "adrenaline", "cortisol", "trust"}
    closed = history.series(db, agent.id, t0 - timedelta(minutes=1), t0 + timedelta(seconds=30))
    assert len(closed) == 1


@pytest.mark.rolled_back
def test_long_ranges_are_thinned_and_old_samples_pruned(db, sql):
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    agent = make_agent(db, now=t0)
    sql.execute("""INSERT INTO phoenix.agent_history (agent_id, at, dopamine, oxytocin, adrenaline, cortisol, trust)
                   SELECT %s, %s::timestamptz + n * interval '1 minute', 1, 1, 1, 0.3, 0.5
                     FROM generate_series(0, 5999) AS n""", (agent.id, t0))
    points = history.series(db, agent.id, t0, t0 + timedelta(minutes=6000))
    assert 0 < len(points) <= constants.AGENT_HISTORY_POINTS_MAX
    end = t0 + timedelta(minutes=6000)
    history.sample(db, now=end, retention_seconds=3600)
    assert min(_at(sql, agent.id)) >= end - timedelta(seconds=3600)


@pytest.mark.rolled_back
def test_interactions_and_cascades_of_an_agent(db):
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    a = make_agent(db, now=t0)
    b = make_agent(db, now=t0)
    federation.pair(db, a.id, b.id)
    task = make_task(db, now=t0)
    claim = lifecycle.claim(db, a.id, now=t0)
    lifecycle.result(db, task.id, a.id, claim.attempt, {}, 0.8, now=t0)
    moved = history.interactions(db, a.id, t0 - timedelta(minutes=1))
    assert moved and moved[0]["kind"] == "outcome" and moved[0]["trust_delta"] > 0
    assert moved[0]["task_id"] == task.id and moved[0]["task_title"] == task.title
    federation.cascade(db, "dopamine", 0.5, agent=str(a.id))
    seen_a = history.cascades(db, a.id, t0 - timedelta(minutes=1))
    seen_b = history.cascades(db, b.id, t0 - timedelta(minutes=1))
    assert seen_a and seen_a[0]["role"] == "source"
    assert seen_b and seen_b[0]["role"] == "receiver" and seen_b[0]["delta"] > 0


@pytest.mark.rolled_back
def test_bad_windows_are_refused_in_one_line(db):
    agent = make_agent(db)
    now = datetime.now(UTC)
    for since, until, says in [(now, now - timedelta(hours=1), "is before since"),
                               (datetime(2026, 1, 1), None, "time zone")]:
        with pytest.raises(errors.InvalidInput, match=says) as info:
            history.series(db, agent.id, since, until)
        assert len(str(info.value).splitlines()) == 1
    with pytest.raises(errors.InvalidInput, match="agent"):
        history.series(db, "not an id", now)


def test_two_beats_sampling_at_once_write_one_row_per_agent(db, sql):
    """Two beats run the job in the same tick, released together: each agent has one sample."""
    import threading

    now = datetime.now(UTC)
    crew = [make_agent(db, now=now) for _ in range(5)]
    start = threading.Barrier(2)
    written: list[int] = []

    def beat():
        start.wait()
        written.append(history.sample(db, now=now))

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(written) == 5  # split between the two any way, never written twice
    rows = sql.execute("SELECT agent_id, count(*) AS n FROM phoenix.agent_history GROUP BY agent_id").fetchall()
    assert {r["agent_id"] for r in rows} == {a.id for a in crew} and all(r["n"] == 1 for r in rows)
