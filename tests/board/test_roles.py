"""The agent and monitor roles, tried by connecting as them (logins that are members, as in
production): the agent role can do its job through the board's functions and nothing more, the
monitor reads and never writes. Every forbidden act gets a clear error and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from phoenix_board.board import agents, comments, errors, lifecycle, migrate, votes
from phoenix_board.board.db import Database, acting_as
from tests.board.conftest import ROLES, raised, raw, refused, run_together
from tests.conftest import login, make_agent, make_task, snapshot


@pytest.fixture
def monitor_db(sql, url) -> Iterator[Database]:
    for login_url in login(sql, url, ROLES["monitor"]):
        with Database(login_url, max_size=2, name="phoenix-test-monitor") as db:
            yield db


@pytest.fixture
def board(db):
    """Two agents of alpha_delta and one of iota; B holds a claim; iota has an open task."""
    a, b = make_agent(db), make_agent(db)
    c = make_agent(db, team="iota")
    claimed = make_task(db, title="claimed by b")
    t = lifecycle.claim(db, b.id)
    assert t.id == claimed.id
    mine = make_task(db, title="open in alpha", created_by=b.id)
    other_team = make_task(db, title="open in iota", team="iota")
    return {"a": a, "b": b, "c": c, "claimed": t, "open": mine, "iota": other_team}


# --- the agent role does its job -------------------------------------------------------------


def test_the_agent_role_works_a_task_through_its_whole_lifecycle(agent_db, db, board):
    team = {"team": "epsilon_zeta"}
    a, _ = agents.register(agent_db, {"codename": "role-test-worker", **team})
    peer, created = agents.register(agent_db, {"codename": "role-test-peer", **team})
    assert created
    with acting_as(a.id):
        task, _ = lifecycle.submit(agent_db, {"title": "by a", **team, "created_by": str(a.id), "review_quorum": 1})
        got = lifecycle.claim(agent_db, a.id)
        assert got.id == task.id
        got = lifecycle.start(agent_db, got.id, a.id, got.attempt)
        got = lifecycle.renew(agent_db, got.id, a.id, got.attempt)
        votes.vote(agent_db, board["iota"].id, a.id, 1)
        comments.add(agent_db, board["iota"].id, a.id, "looks fine")
        agents.heartbeat(agent_db, a.id)
        assert lifecycle.get(agent_db, got.id).assigned_to == a.id  # its own claim is visible
        done = lifecycle.result(agent_db, got.id, a.id, got.attempt, output={"x": 1}, quality=0.9)
    with acting_as(peer.id):  # a peer of its team sees it in review and reviews it
        assert lifecycle.get(agent_db, done.id).status == "review"
        decided, verdict = lifecycle.review(agent_db, done.id, peer.id, 1)
    assert verdict == "approved" and decided.status == "complete"
    assert lifecycle.release_expired(agent_db) == []  # the sweeper, as the poller runs it
    assert lifecycle.get(db, task.id).status == "complete"
    assert lifecycle.get(db, board["iota"].id).upvotes == 1


# --- what it may not do ----------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE phoenix.agents SET trust_coefficient = 1, trust_r = 100",
    "UPDATE phoenix.agents SET hormone_levels = '{\"dopamine\": 5, \"oxytocin\": 5, \"adrenaline\": 5, \"cortisol\": 0}'",
    "UPDATE phoenix.agents SET tasks_completed = tasks_completed + 100",
    "UPDATE phoenix.tasks SET status = 'complete'",
    "UPDATE phoenix.tasks SET upvotes = upvotes + 1",
    "DELETE FROM phoenix.task_votes",
    "INSERT INTO phoenix.task_votes (task_id, agent_id, vote) SELECT id, created_by, 1 FROM phoenix.tasks",
    "INSERT INTO phoenix.agent_interactions (agent_to, interaction_type, trust_delta) "
    "SELECT id, 'outcome', 1 FROM phoenix.agents",
    "INSERT INTO phoenix.task_events (task_id, kind, attempt, at) SELECT id, 'completed', 1, now() FROM phoenix.tasks",
    "UPDATE phoenix.agents SET current_task = NULL",
    "TRUNCATE phoenix.tasks CASCADE",
])
def test_the_agent_role_writes_no_table_directly(agent_db, sql, board, statement):
    with acting_as(board["a"].id):
        error = refused(sql, errors.Forbidden, "permission denied", lambda: raw(agent_db, statement))
    assert "acts only through the board's functions" in str(error)


@pytest.mark.parametrize("act", ["renew", "start", "result", "fail"])
def test_an_agent_cannot_touch_another_agents_claim(agent_db, sql, board, act):
    a, b, t = board["a"], board["b"], board["claimed"]
    calls = {
        "renew": lambda agent: lifecycle.renew(agent_db, t.id, agent, t.attempt),
        "start": lambda agent: lifecycle.start(agent_db, t.id, agent, t.attempt),
        "result": lambda agent: lifecycle.result(agent_db, t.id, agent, t.attempt, output={"stolen": True}),
        "fail": lambda agent: lifecycle.fail(agent_db, t.id, agent, t.attempt, "sabotage"),
    }
    with acting_as(a.id):
        # as itself: it does not hold the claim
        refused(sql, errors.NotClaimant, "does not hold its claim", lambda: calls[act](a.id))
        # in the claimant's name: this transaction acts for a, not b
        refused(sql, errors.Forbidden, f"acts for agent {a.id}.*not for agent {b.id}", lambda: calls[act](b.id))


def test_an_agent_must_name_itself_and_acts_only_for_that_agent(agent_db, sql, board):
    a, b = board["a"], board["b"]
    refused(sql, errors.Forbidden, "must name its agent in phoenix.agent_id", lambda: lifecycle.claim(agent_db, a.id))
    refused(sql, errors.Forbidden, "must name its agent", lambda: agents.heartbeat(agent_db, a.id))
    with acting_as(a.id):
        refused(sql, errors.Forbidden, "not for agent", lambda: lifecycle.claim(agent_db, b.id))
        refused(sql, errors.Forbidden, "not for agent", lambda: votes.vote(agent_db, board["iota"].id, b.id, 1))
        refused(sql, errors.Forbidden, "not for agent",
                lambda: lifecycle.submit(agent_db, {"title": "as b", "team": "alpha_delta", "created_by": str(b.id)}))
    with acting_as(b.id):
        refused(sql, errors.Forbidden, "not for agent", lambda: comments.add(agent_db, board["open"].id, a.id, "as a"))


def test_votes_one_per_agent_and_never_on_its_own_task(agent_db, db, sql, board):
    a, b, task = board["a"], board["b"], board["open"]  # b wrote it
    with acting_as(b.id):
        refused(sql, errors.SelfVote, "own", lambda: votes.vote(agent_db, task.id, b.id, 1))
    with acting_as(a.id):
        votes.vote(agent_db, task.id, a.id, 1)
        before = snapshot(sql)
        votes.vote(agent_db, task.id, a.id, 1)  # the same vote again counts once
        assert snapshot(sql)["tasks"] == before["tasks"]
    assert lifecycle.get(db, task.id).upvotes == 1


def test_agents_run_on_the_servers_clock_and_short_leases(agent_db, sql, board):
    a = board["a"]
    with acting_as(a.id):
        refused(sql, errors.Forbidden, "may not pass an explicit time",
                lambda: lifecycle.claim(agent_db, a.id, now=datetime(2100, 1, 1, tzinfo=UTC)))
        # a sweep "from the future" would expire every live lease
        refused(sql, errors.Forbidden, "explicit time",
                lambda: lifecycle.release_expired(agent_db, now=datetime(2100, 1, 1, tzinfo=UTC)))
        refused(sql, errors.InvalidInput, "lease must be", lambda: lifecycle.claim(agent_db, a.id, lease_seconds=1e9))


def test_the_agent_role_may_not_call_the_owners_functions(agent_db, sql, board):
    for statement in ("SELECT phoenix.agent_decommission(%s)", "SELECT phoenix.hormones_decay_all(1, now()) WHERE %s IS NOT NULL",
                      "SELECT phoenix.agent_outcome(%s, NULL, true, 1, 1, NULL, true, 'x', now())",
                      "SELECT phoenix.trust_rate(%s, 100, 0, NULL, 'outcome', NULL, now())"):
        with acting_as(board["a"].id):
            refused(sql, errors.Forbidden, "permission denied for function",
                    lambda s=statement: raw(agent_db, s, (board["a"].id,)))


# --- what it sees ----------------------------------------------------------------------------


def ids(db: Database, statement: str) -> set:
    return {r["id"] for r in raw(db, statement)}


def test_row_level_security_shows_an_agent_its_teams_open_tasks_and_its_own(agent_db, db, board):
    a, b, c = board["a"], board["b"], board["c"]
    assert ids(agent_db, "SELECT id FROM phoenix.tasks") == set()  # nobody named: nothing
    with acting_as(a.id):
        assert ids(agent_db, "SELECT id FROM phoenix.tasks") == {board["open"].id}
        seen = {r["task_id"] for r in raw(agent_db, "SELECT task_id FROM phoenix.task_events")}
        assert seen == {board["open"].id}
        assert raw(agent_db, "SELECT * FROM phoenix.agent_interactions") == []
        with pytest.raises(errors.NotFound):
            lifecycle.get(agent_db, board["claimed"].id)
    with acting_as(b.id):  # its claim and its submission
        assert ids(agent_db, "SELECT id FROM phoenix.tasks") == {board["claimed"].id, board["open"].id}
    with acting_as(c.id):
        assert ids(agent_db, "SELECT id FROM phoenix.tasks") == {board["iota"].id}
    # a specialist sees its category's open tasks in every team
    spec = make_agent(db, team="iota", specialization=["review"])
    reviewable = make_task(db, category="review")
    with acting_as(spec.id):
        assert reviewable.id in ids(agent_db, "SELECT id FROM phoenix.tasks")
    with acting_as(a.id):  # and every agent reads the federation's profiles
        assert len(raw(agent_db, "SELECT id FROM phoenix.agents")) == 4


def test_the_monitor_reads_everything_and_writes_nothing(monitor_db, db, sql, board):
    assert len(ids(monitor_db, "SELECT id FROM phoenix.tasks")) == 3
    assert raw(monitor_db, "SELECT count(*) AS n FROM phoenix.consciousness_timeline")[0]["n"] == 0
    assert monitor_db.all("metrics_board")  # what the exporter reads
    refused(sql, errors.Forbidden, "permission denied", lambda: raw(monitor_db, "UPDATE phoenix.tasks SET priority = 1"))
    refused(sql, errors.Forbidden, "permission denied", lambda: lifecycle.claim(monitor_db, board["a"].id))


# --- how the roles are set up ----------------------------------------------------------------


def test_the_owner_role_owns_the_schema_and_definers_pin_their_search_path(sql):
    # on TimescaleDB the relations its background jobs run on (and its continuous aggregate) belong
    # to the migrating login, since a job runs as its relation's owner, who must log in
    timescale = set()
    if sql.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
        timescale = {r["rel"] for r in sql.execute(
            "SELECT hypertable_name::text AS rel FROM timescaledb_information.jobs WHERE hypertable_schema = 'phoenix'"
            " UNION SELECT view_name::text FROM timescaledb_information.continuous_aggregates"
            " WHERE view_schema = 'phoenix'").fetchall()}
    owners = sql.execute(
        "SELECT relname::text AS rel, relowner::regrole::text AS o, r.rolcanlogin, has_table_privilege(%s, c.oid, 'SELECT') AS readable"
        " FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE relnamespace = 'phoenix'::regnamespace "
        "AND relkind IN ('r', 'v', 'm')", (ROLES["owner"],)).fetchall()
    assert {r["o"] for r in owners if r["rel"] not in timescale} == {ROLES["owner"]}
    for r in owners:
        if r["rel"] in timescale:
            assert r["rolcanlogin"] and r["readable"], r
    definers = sql.execute(
        "SELECT p.oid::regprocedure::text AS f, p.proconfig FROM pg_proc p "
        "WHERE p.pronamespace = 'phoenix'::regnamespace AND p.prosecdef").fetchall()
    assert len(definers) >= 15
    for d in definers:
        assert d["proconfig"] == ["search_path=pg_catalog, pg_temp"], d
    # the agent's table privileges are SELECT and nothing else
    privileges = sql.execute(
        "SELECT DISTINCT privilege_type AS p FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND table_schema = 'phoenix'", (ROLES["agent"],)).fetchall()
    assert {r["p"] for r in privileges} == {"SELECT"}


def test_workers_connect_as_the_agent_role(url):
    """SET ROLE from a superuser URL (one machine): the pool's connections are the agent role."""
    with Database(url, max_size=1, role=ROLES["agent"]) as db:
        with db.connection() as conn:
            assert conn.execute("SELECT current_user AS u").fetchone()["u"] == ROLES["agent"]
        with pytest.raises(errors.Forbidden):
            raw(db, "DELETE FROM phoenix.tasks")


def test_roles_are_created_once_when_many_databases_migrate_at_once(server_url):
    """Roles belong to the server, not a database: four first migrations of four databases with a
    new prefix, released together, must not trip over each other's CREATE ROLE."""
    prefix = f"pbt{uuid.uuid4().hex[:8]}"
    names = [f"phoenix_test_{uuid.uuid4().hex[:12]}" for _ in range(4)]
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f"CREATE DATABASE {name}")
        try:
            results = run_together([lambda n=name: migrate.migrate(make_conninfo(server_url, dbname=n), prefix)
                                    for name in names])
            assert raised(results) == []
            roles = admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1", (prefix + "%",)).fetchall()
            assert [r[0] for r in roles] == [f"{prefix}_agent", f"{prefix}_monitor", f"{prefix}_owner"]
        finally:
            for name in names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            for role in migrate.role_names(prefix).values():
                admin.execute(f"DROP ROLE IF EXISTS {role}")
