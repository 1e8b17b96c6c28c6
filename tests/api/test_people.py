"""People over the API (api/schema/people.py, api/schema/history.py): a member token reads, votes,
comments, replies, votes on comments and reviews, and never claims; a needs-person task waits for
it; the console's figures for operators and readers; an agent's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phoenix_board.api import tokens
from phoenix_board.board import comments, history, lifecycle, members
from tests.conftest import make_agent, make_task, snapshot

REVIEW = """mutation($t: ID!, $v: Int!, $r: String) {
  reviewTask(task: $t, verdict: $v, reason: $r) { decided task { id status needsPerson } } }"""
WAITING = "{ waitingForPeople { id title verdicts executor } }"


def member_with_token(api, team, name):
    member, _ = members.add(api.db, name, team)
    return member, tokens.create(api.db, "member", member=name).token


def in_review(db, executor, **task):
    t = make_task(db, team=executor.team, **task)
    claim = lifecycle.claim(db, executor.id)
    return lifecycle.result(db, t.id, executor.id, claim.attempt, {"n": 1}, 0.9)


def test_a_member_takes_part_and_never_claims(api, api_sql):
    team = api.team()
    ada, token = member_with_token(api, team, f"ada-{team}")
    bot = make_agent(api.db, team=team)
    task = make_task(api.db, team=team, created_by=bot.id)
    got = api.gql("mutation($t: ID!) { voteTask(taskId: $t, vote: 1) { upvotes } }", {"t": str(task.id)}, token)
    assert got["voteTask"]["upvotes"] == 1
    top = api.gql("mutation($t: ID!) { comment(taskId: $t, content: \"why?\") { id agentId } }",
                  {"t": str(task.id)}, token)["comment"]
    assert top["agentId"] == str(ada.id)
    reply = api.gql("mutation($t: ID!, $p: ID!) { comment(taskId: $t, content: \"because\", parentId: $p) { depth } }",
                    {"t": str(task.id), "p": top["id"]}, token)["comment"]
    assert reply["depth"] == 1
    theirs = comments.add(api.db, task.id, bot.id, "a note")
    assert api.gql("mutation($c: ID!) { voteComment(commentId: $c, vote: 1) { upvotes } }",
                   {"c": str(theirs["id"])}, token)["voteComment"]["upvotes"] == 1
    assert api.gql("query($t: ID!) { task(id: $t) { id } }", {"t": str(task.id)}, token)["task"]["id"] == str(task.id)
    before = snapshot(api_sql)
    for query in ("mutation { claim { id } }", "mutation { claimReview { id } }", "mutation { heartbeat { id } }",
                  "mutation { createTask(input: {title: \"x\", team: \"%s\"}) { created } }" % team,
                  "mutation($t: ID!) { voteTask(taskId: $t, vote: 1, agent: \"%s\") { upvotes } }" % bot.codename):
        err = api.error(query, {"t": str(task.id)} if "$t" in query else None, token)
        assert err["extensions"]["code"] == "FORBIDDEN", (query, err)
        assert len(err["message"].splitlines()) == 1
    assert snapshot(api_sql) == before


def test_a_member_reviews_a_task_that_waits_for_a_person(api):
    team = api.team()
    _, token = member_with_token(api, team, f"bea-{team}")
    executor, peer = make_agent(api.db, team=team), make_agent(api.db, team=team)
    task = in_review(api.db, executor, review_quorum=1, needs_person=True)
    peer_token = api.token("agent", agent=peer.codename)
    by_agent = api.gql(REVIEW, {"t": str(task.id), "v": 1}, peer_token)["reviewTask"]
    assert by_agent["decided"] is None and by_agent["task"]["needsPerson"]
    listed = api.gql("query($t: String) { members(team: $t) { codename kind } }", {"t": team}, token)["members"]
    assert listed == [{"codename": f"bea-{team}", "kind": "member"}]
    waiting = api.gql(WAITING, token=token)["waitingForPeople"]
    assert [w["id"] for w in waiting if w["id"] == str(task.id)] == [str(task.id)]
    got = api.gql(REVIEW, {"t": str(task.id), "v": 1, "r": "checked by hand"}, token)["reviewTask"]
    assert got["decided"] == "approved" and got["task"]["status"] == "COMPLETE"
    assert str(task.id) not in [w["id"] for w in api.gql(WAITING, token=token)["waitingForPeople"]]


def test_bad_reviews_are_typed_errors_that_change_nothing(api, api_sql):
    team = api.team()
    ada, token = member_with_token(api, team, f"cy-{team}")
    executor = make_agent(api.db, team=team)
    own = in_review(api.db, executor, review_quorum=1, created_by=ada.id)
    other = in_review(api.db, executor, review_quorum=1)
    reader = api.token("reader")
    before = snapshot(api_sql)
    for variables, tok, code in [({"t": str(own.id), "v": 1}, token, "FORBIDDEN"),  # it submitted it
                                 ({"t": str(other.id), "v": 2}, token, "INVALID_INPUT"),
                                 ({"t": "nothing-like-an-id", "v": 1}, token, "INVALID_INPUT"),
                                 ({"t": "0123abcd", "v": 1}, token, "NOT_FOUND"),
                                 ({"t": str(other.id), "v": 1}, reader, "FORBIDDEN")]:
        err = api.error(REVIEW, variables, tok)
        assert err["extensions"]["code"] == code, (variables, err)
        assert len(err["message"].splitlines()) == 1
    assert snapshot(api_sql) == before


def test_needs_person_through_create_task(api):
    team = api.team()
    operator = api.token("operator")
    got = api.gql("""mutation($i: CreateTaskInput!) { createTask(input: $i) { task { needsPerson reviewQuorum } } }""",
                  {"i": {"title": "ask a person", "team": team, "needsPerson": True}}, operator)["createTask"]
    assert got["task"] == {"needsPerson": True, "reviewQuorum": 1}
    err = api.error("""mutation($i: CreateTaskInput!) { createTask(input: $i) { created } }""",
                    {"i": {"title": "x", "team": team, "needsPerson": "yes"}}, operator)
    assert "needsPerson" in err["message"] or "Boolean" in err["message"]


CONSOLE = """query { console { since depth { team status n } oldestClaimable { team seconds taskId }
  timeInStatus { status stays } failures { reason attempts final } stalledReviews { id }
  waitingForPeople { id } beatJobs { job state } relay { unpublished lagSeconds }
  agentsByHost { host live dead } alerts { name } alertsError } }"""


def test_console_for_operators_and_readers_only(api):
    team = api.team()
    make_task(api.db, team=team, now=datetime.now(UTC) - timedelta(minutes=3))
    for kind in ("operator", "reader"):
        got = api.gql(CONSOLE, token=api.token(kind))["console"]
        oldest = {r["team"]: r for r in got["oldestClaimable"]}
        assert oldest[team]["seconds"] >= 170 and oldest[team]["taskId"]
        assert {"snapshot", "agent_history"} <= {j["job"] for j in got["beatJobs"]}
    agent = make_agent(api.db, team=team)
    _, member_token = member_with_token(api, team, f"dee-{team}")
    for token in (api.token("agent", agent=agent.codename), member_token):
        assert api.error(CONSOLE, token=token)["extensions"]["code"] == "FORBIDDEN"


def test_agent_history(api):
    team = api.team()
    agent = make_agent(api.db, team=team)
    history.sample(api.db)
    got = api.gql("""query($c: String!, $s: DateTime!) { agent(codename: $c) { kind history(since: $s) {
        points { at dopamine trust } interactions { kind trustDelta } cascades { id } } } }""",
                  {"c": agent.codename, "s": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
                  api.token("reader"))["agent"]
    assert got["kind"] == "agent" and len(got["history"]["points"]) == 2  # the sample and now
    err = api.error("""query($c: String!) { agent(codename: $c) { history(since: "2026-01-01T00:00:00") { points { at } } } }""",
                    {"c": agent.codename}, api.token("reader"))
    assert err["extensions"]["code"] == "INVALID_INPUT"


def test_a_removed_members_token_stops_working(api):
    team = api.team()
    name = f"eve-{team}"
    _, token = member_with_token(api, team, name)
    assert api.gql(WAITING, token=token) is not None
    members.remove(api.db, name)
    r = api.post(WAITING, token=token)  # the tests' server trusts a checked token for 0 s
    assert r.status_code == 401 and "who was removed" in r.text
