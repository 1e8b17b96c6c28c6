"""Functions return only what their caller may see, and idempotency keys belong to their
submitter (issue 12, points 5 and 10): tried in SQL as a real agent-role login, the door where
the holes were found."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import errors, lifecycle
from phoenix_board.board.db import acting_as
from tests.conftest import make_agent, make_task, snapshot
from tests.board.conftest import ROLES, as_agent, refused
from tests.conftest import login

SUBMIT = ("SELECT (r.task).id, (r.task).title, (r.task).payload, (r.task).description, (r.task).output, r.created "
          "FROM phoenix.task_submit(%s, %s, NULL, %s::jsonb, NULL, %s, %s, NULL, NULL, NULL, NULL, NULL, NULL, %s) AS r")


@pytest.fixture
def agent_sql(sql, url):
    """A raw connection of an agent-role login: what an agent, or a compromised handler, can send."""
    for login_url in login(sql, url, ROLES["agent"]):
        with psycopg.connect(login_url, autocommit=True, row_factory=dict_row) as conn:
            yield conn


@pytest.fixture
def secret(db):
    """iota's task with a secret payload and output, submitted under key k-secret."""
    owner = make_agent(db, team="iota")
    t = make_task(db, team="iota", title="secret", description="iota only", payload={"secret": 42},
                  idempotency_key="k-secret", created_by=str(owner.id))
    return t


def test_another_submitters_key_is_another_task_and_reads_nothing_of_the_first(db, agent_sql, secret):
    spy = make_agent(db, team="alpha_delta")
    for who in (None, spy.id):  # naming no agent, and as an agent of another team
        row = as_agent(agent_sql, who, SUBMIT, ("mine", "", "{}", "alpha_delta", who, "k-secret"))
        assert row["created"] and row["id"] != secret.id
        assert (row["title"], row["payload"]) == ("mine", {})
    assert lifecycle.get(db, secret.id).payload == {"secret": 42}


def test_a_key_reused_with_other_content_is_refused_in_one_line_and_same_content_returns_the_task(db, sql):
    first, created = lifecycle.submit(db, {"title": "report", "team": "iota", "idempotency_key": "k-1"})
    again, created_again = lifecycle.submit(db, {"title": "report", "team": "iota", "idempotency_key": "k-1"})
    assert created and not created_again and again.id == first.id
    for change in ({"title": "other"}, {"team": "alpha_delta"}, {"payload": {"x": 1}}, {"priority": 9}):
        refused(sql, errors.Conflict, "idempotency key k-1 was already used for a different task; use a new key",
                lambda change=change: lifecycle.submit(db, {"title": "report", "team": "iota", "idempotency_key": "k-1"}
                                                       | change))


def test_a_repeated_anonymous_submission_returns_only_what_the_sender_sent(db, sql, agent_sql):
    a = make_agent(db, team="iota")
    row = as_agent(agent_sql, None, SUBMIT, ("job", "d", '{"n": 1}', "iota", None, "k-anon"))
    assert row["created"]
    with acting_as(None):
        t = lifecycle.claim(db, a.id)
    lifecycle.result(db, t.id, a.id, t.attempt, output={"private": "result"})
    again = as_agent(agent_sql, None, SUBMIT, ("job", "d", '{"n": 1}', "iota", None, "k-anon"))
    assert not again["created"] and again["id"] == row["id"]
    assert (again["title"], again["payload"], again["output"]) == ("job", {"n": 1}, None)


def test_a_vote_returns_only_the_counts_of_a_task_the_voter_cannot_see(db, sql, agent_sql, secret):
    spy = make_agent(db, team="alpha_delta")
    vote = ("SELECT (r.task).id, (r.task).title, (r.task).payload, (r.task).upvotes, r.previous "
            "FROM phoenix.task_vote(%s, %s, %s, NULL) AS r")
    for value in (0, 1, 1, 0):  # nothing to retract, a vote, the same vote again, a retraction
        row = as_agent(agent_sql, spy.id, vote, (secret.id, spy.id, value))
        assert row["id"] == secret.id and row["title"] is None and row["payload"] is None
    # a peer of iota sees it whole
    peer = make_agent(db, team="iota")
    row = as_agent(agent_sql, peer.id, vote, (secret.id, peer.id, 0))
    assert (row["title"], row["payload"]) == ("secret", {"secret": 42})


def test_current_task_names_only_tasks_the_reader_may_see(db, sql, agent_sql, secret):
    worker = make_agent(db, team="iota")
    held = lifecycle.claim(db, worker.id)
    assert held.id == secret.id
    spy, peer = make_agent(db, team="alpha_delta"), make_agent(db, team="iota")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_agent(agent_sql, spy.id, "SELECT current_task FROM phoenix.agents WHERE id = %s", (worker.id,))
    seen = "SELECT codename, current_task FROM phoenix.agents_seen WHERE id = %s"
    assert as_agent(agent_sql, spy.id, seen, (worker.id,)) == {"codename": worker.codename, "current_task": None}
    assert as_agent(agent_sql, worker.id, seen, (worker.id,))["current_task"] == secret.id  # its own
    # a claimed task is not open, so a peer does not see it either; the owner sees everything
    assert as_agent(agent_sql, peer.id, seen, (worker.id,))["current_task"] is None
    assert sql.execute(seen, (worker.id,)).fetchone()["current_task"] == secret.id
    # its profile stays readable to every agent
    assert as_agent(agent_sql, spy.id, "SELECT codename, team FROM phoenix.agents WHERE id = %s",
                    (worker.id,)) == {"codename": worker.codename, "team": "iota"}
    assert snapshot(sql)  # the board is intact
