"""agent_register acts only for its caller (issue 12.6), tried in SQL as a login of the agent role:
re-attaching to an existing agent needs that agent named in phoenix.agent_id, and only the
operator (the owner) brings a decommissioned agent back. Each refusal is one line and changes
nothing."""

from __future__ import annotations

import pytest

from phoenix_board.board import agents, errors
from phoenix_board.board.db import acting_as
from tests.conftest import make_agent
from tests.board.conftest import raw, refused

REGISTER = "SELECT (r.agent).codename, (r.agent).role, (r.agent).specialization, r.created " \
           "FROM phoenix.agent_register(%s, %s, %s, %s::text[], NULL, NULL) AS r"


@pytest.fixture
def two(db):
    a = make_agent(db, codename="reg-a", specialization=["docs"])
    b = make_agent(db, codename="reg-b", specialization=["sql"])
    return a, b


def test_naming_no_agent_it_may_not_rewrite_an_existing_one(agent_db, sql, two):
    _, b = two
    refused(sql, errors.Forbidden, "must name its agent in phoenix.agent_id",
            lambda: raw(agent_db, REGISTER, ("reg-b", "alpha_delta", "supervisor", ["security", "audit"])))


def test_as_one_agent_it_may_not_rewrite_another(agent_db, sql, two):
    a, b = two
    with acting_as(a.id):
        refused(sql, errors.Forbidden, f"acts for agent {a.id}.*not for agent {b.id}",
                lambda: raw(agent_db, REGISTER, ("reg-b", "alpha_delta", "supervisor", ["security"])))


def test_it_may_not_bring_back_a_decommissioned_agent_even_naming_it(agent_db, db, sql, two):
    _, b = two
    agents.decommission(db, b.id)
    for actor in (None, b.id):
        with acting_as(actor):
            refused(sql, errors.Forbidden, "decommissioned|must name",
                    lambda: raw(agent_db, REGISTER, ("reg-b", "alpha_delta", None, None)))
    with acting_as(b.id):
        error = refused(sql, errors.Forbidden, "decommissioned", lambda: agents.register(
            agent_db, {"codename": "reg-b", "team": "alpha_delta"}))
    assert "only an operator brings it back" in str(error)
    back, created = agents.register(db, {"codename": "reg-b", "team": "alpha_delta"})  # the operator may
    assert not created and back.decommissioned_at is None and back.id == b.id


def test_naming_itself_it_re_attaches_and_a_new_codename_registers(agent_db, two):
    a, _ = two
    with acting_as(a.id):
        again, created = agents.register(agent_db, {"codename": "reg-a", "team": "alpha_delta", "specialization": ["docs"]})
    assert not created and again.id == a.id
    fresh, created = agents.register(agent_db, {"codename": "reg-new", "team": "alpha_delta"})
    assert created
