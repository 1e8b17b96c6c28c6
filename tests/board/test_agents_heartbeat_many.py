"""One heartbeat for all the agents of a thread pool's process (``agents.heartbeat_many``,
``phoenix.agents_heartbeat``): it renews what the pool's token holds and names what it does not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from phoenix_board.board import agents, errors
from tests.board.conftest import refused

T0 = datetime(2020, 1, 1, tzinfo=UTC)  # registered long ago: a renewed heartbeat is the server's now()


def _agents(db, token, n, prefix):
    return [agents.register(db, {"codename": f"{prefix}-{i}", "team": "iota"}, now=T0, holder=token)[0].id
            for i in range(n)]


def test_one_call_renews_the_pools_agents_and_names_those_it_lost(db, agent_db, sql):
    mine, other = uuid.uuid4(), uuid.uuid4()
    ids = _agents(db, mine, 3, "beat")
    taken = _agents(db, other, 1, "taken")[0]
    gone = _agents(db, mine, 1, "gone")[0]
    agents.decommission(db, gone)
    # as the agent role, naming no agent: the token is what the pool holds its agents by
    unknown = uuid.uuid4()
    assert agents.heartbeat_many(agent_db, [*ids, taken, gone, unknown], mine) == {taken, gone, unknown}
    rows = sql.execute("SELECT id, last_heartbeat > %s AS fresh, holder FROM phoenix.agents", (T0,)).fetchall()
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[i]["fresh"] and by_id[i]["holder"] == mine for i in ids)
    assert not by_id[taken]["fresh"] and by_id[taken]["holder"] == other  # another pool's: untouched
    assert not by_id[gone]["fresh"]


def test_a_released_agent_is_held_again_by_the_pool_that_beats_for_it(db, sql):
    token = uuid.uuid4()
    agent = _agents(db, token, 1, "freed")[0]
    assert agents.release(db, agent, token)
    assert agents.heartbeat_many(db, [agent], token) == set()
    assert sql.execute("SELECT holder FROM phoenix.agents WHERE id = %s", (agent,)).fetchone()["holder"] == token


def test_a_beat_without_a_token_is_refused_in_one_line(db, sql):
    ids = _agents(db, uuid.uuid4(), 2, "notoken")
    refused(sql, errors.InvalidInput, "needs the holder token", lambda: agents.heartbeat_many(db, ids, None))
