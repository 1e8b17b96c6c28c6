"""The federation through its interfaces: the command line, the queue message and the roles."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from phoenix_board.board import errors, federation, migrate, models
from phoenix_board.workers import messages
from tests.cli.conftest import assert_refused, js
from tests.conftest import make_agent, snapshot


@pytest.mark.slow
def test_topology_and_a_cascade_from_the_command_line(run, sql):  # noqa: F811
    for name in ("ann", "bob", "cy"):
        run("agents", "register", name, "--team", "iota")
    run("agents", "pair", "ann", "bob")
    run("agents", "supervise", "ann", "cy")
    shown = js(run("agents", "show", "ann", "--json"))
    assert shown["partners"] == ["bob"] and shown["subordinates"] == ["cy"] and shown["supervisor"] is None
    assert "partners: bob" in run("agents", "show", "ann").stdout
    before = snapshot(sql)
    assert_refused(run("agents", "supervise", "cy", "ann", ok=False), "cycle")
    assert_refused(run("hormones", "cascade", "--agent", "ann", "--hormone", "serotonin", "--intensity", "0.5", ok=False),
                   "hormone must be")
    assert snapshot(sql) == before
    cid = str(uuid.uuid4())
    first = js(run("hormones", "cascade", "--agent", "ann", "--hormone", "dopamine", "--intensity", "0.5",
                   "--id", cid, "--json"))
    assert first["reached"] == 3  # ann, then bob (partner) and cy (subordinate)
    state = snapshot(sql)
    again = js(run("hormones", "cascade", "--agent", "ann", "--hormone", "dopamine", "--intensity", "0.5",
                   "--id", cid, "--json"))
    assert again == first and snapshot(sql) == state
    run("agents", "supervise", "--remove", "cy")
    # the old spelling still works, hidden, and says which one to use
    run("agents", "supervise", "ann", "cy")
    old = run("agents", "unsupervise", "cy")
    assert "deprecated; use `agents supervise --remove SUBORDINATE`" in old.stderr and "no supervisor now" in old.stdout
    run("agents", "unpair", "bob", "ann")
    shown = js(run("agents", "show", "ann", "--json"))
    assert shown["partners"] == [] and shown["subordinates"] == []


@pytest.mark.parametrize("body", [
    {"hormone": "dopamine", "intensity": 0.5},  # no source
    {"hormone": "dopamine", "intensity": 0.5, "team": "iota", "agent": "ann"},  # two
    {"hormone": "dopamine", "intensity": 0, "team": "iota"},
    {"hormone": "dopamine", "intensity": 2, "team": "iota"},
    {"hormone": "bile", "intensity": 0.5, "team": "iota"},
])
def test_the_cascade_message_is_validated_before_anything_is_written(body):
    with pytest.raises(errors.InvalidInput) as got:
        models.parse(messages.CascadeMessage, {"id": str(uuid.uuid4()), **body})
    assert "\n" not in got.value.message


def test_the_cascade_message_runs_once_per_id(db, sql, monkeypatch, url):
    from phoenix_board.workers import process_state, tasks

    a, b = make_agent(db), make_agent(db)
    federation.pair(db, a.id, b.id)
    monkeypatch.setenv(process_state.ENV_DATABASE, url)
    tasks._operator_db.cache_clear()
    body = models.parse(messages.CascadeMessage, {"id": str(uuid.uuid4()), "hormone": "oxytocin", "intensity": 0.4,
                                           "agent": a.codename}).model_dump(mode="json")
    try:
        assert tasks.cascade(body=body) == 2
        state = snapshot(sql)
        assert tasks.cascade(body=body) == 2  # a re-delivery: the same cascade, nothing new
        assert snapshot(sql) == state
    finally:
        tasks._operator_db().close()
        tasks._operator_db.cache_clear()


@pytest.mark.parametrize("statement", [
    "SELECT * FROM phoenix.agent_pair(%(a)s, %(b)s)",
    "SELECT * FROM phoenix.agent_supervise(%(a)s, %(b)s)",
    "SELECT * FROM phoenix.hormone_cascade(gen_random_uuid(), 'dopamine', 0.5, NULL, %(a)s)",
    "SELECT * FROM phoenix.hormone_cascade_run(gen_random_uuid())",
])
def test_the_agent_role_may_not_change_the_topology_or_start_cascades(db, url, statement):
    a, b = make_agent(db), make_agent(db)
    role = migrate.role_names()["agent"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {role}")
        conn.execute("SELECT set_config('phoenix.agent_id', %s, false)", (str(a.id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement, {"a": a.id, "b": b.id})
