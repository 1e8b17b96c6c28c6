"""One live process per agent (issue 11.3), in the database: a holder token taken at registration,
renewed by the heartbeat, freed on a clean exit, lapsing ACTIVE_AGENT_SECONDS after the last
heartbeat. Times are pinned (the owner may pass them), so nothing here waits for the window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, constants, errors
from tests.conftest import snapshot

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
WINDOW = timedelta(seconds=constants.ACTIVE_AGENT_SECONDS)


def test_a_second_process_attaching_to_a_live_agent_is_refused_in_one_line(db, sql):
    first, second = uuid.uuid4(), uuid.uuid4()
    agent, created = agents.register(db, {"codename": "held-1", "team": "iota", "specialization": ["sql"]},
                                     now=T0, holder=first)
    assert created
    before = snapshot(sql)
    with pytest.raises(errors.Conflict, match="held-1 is held by another live process") as info:
        agents.register(db, {"codename": "held-1", "team": "iota", "specialization": ["docs"]},
                        now=T0 + WINDOW - timedelta(seconds=1), holder=second)
    assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before  # the first pool's specialization is not overwritten
    assert agents.get(db, agent.id).specialization == ["sql"]


def test_the_same_pool_re_attaches_at_once_and_keeps_its_identity(db):
    token = uuid.uuid4()
    agent, _ = agents.register(db, {"codename": "held-2", "team": "iota"}, now=T0, holder=token)
    again, created = agents.register(db, {"codename": "held-2", "team": "iota"}, now=T0 + timedelta(seconds=1),
                                     holder=token)
    assert not created and again.id == agent.id


def test_the_hold_lapses_after_the_liveness_window_and_the_heartbeat_renews_it(db):
    first, second = uuid.uuid4(), uuid.uuid4()
    agent, _ = agents.register(db, {"codename": "held-3", "team": "iota"}, now=T0, holder=first)
    agents.heartbeat(db, agent.id, now=T0 + WINDOW - timedelta(seconds=1), holder=first)  # renewed
    with pytest.raises(errors.Conflict, match="held by another live process"):
        agents.register(db, {"codename": "held-3", "team": "iota"}, now=T0 + WINDOW + timedelta(seconds=1), holder=second)
    # no heartbeat for a whole window: the first process is dead as far as anyone can tell
    taken, created = agents.register(db, {"codename": "held-3", "team": "iota"},
                                     now=T0 + 2 * WINDOW + timedelta(seconds=1), holder=second)
    assert not created and taken.id == agent.id
    # the old process, if it wakes up, learns it lost the agent
    with pytest.raises(errors.Conflict, match="held by another process now"):
        agents.heartbeat(db, agent.id, now=T0 + 2 * WINDOW + timedelta(seconds=2), holder=first)


def test_a_clean_exit_frees_the_hold_at_once(db):
    first, second = uuid.uuid4(), uuid.uuid4()
    agent, _ = agents.register(db, {"codename": "held-4", "team": "iota"}, holder=first)
    assert not agents.release(db, agent.id, second)  # only the holder's token frees it
    with pytest.raises(errors.Conflict):
        agents.register(db, {"codename": "held-4", "team": "iota"}, holder=second)
    assert agents.release(db, agent.id, first)
    taken, _ = agents.register(db, {"codename": "held-4", "team": "iota"}, holder=second)
    assert taken.id == agent.id


def test_the_operators_registration_takes_no_hold(db):
    token = uuid.uuid4()
    agent, _ = agents.register(db, {"codename": "held-5", "team": "iota"})
    held, _ = agents.register(db, {"codename": "held-5", "team": "iota"}, holder=token)
    assert held.id == agent.id
