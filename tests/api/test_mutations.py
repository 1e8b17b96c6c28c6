"""Every mutation over real HTTP against a real server, with real tokens: the agent protocol fenced
by the attempt, an agent token held to its own agent, two agents that never share a task, and
errors that write nothing."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import lifecycle
from tests.conftest import make_agent, make_task, snapshot

TASK = "id status attempt assignedTo"
CREATE = """mutation($input: CreateTaskInput!, $wait: Float) {
  createTask(input: $input, waitSeconds: $wait) { created ended task { id title createdBy status priority } }
}"""
CLAIM = f"mutation($lease: Float) {{ claim(leaseSeconds: $lease) {{ {TASK} }} }}"
START = f"mutation($t: ID!, $a: Int!) {{ start(taskId: $t, attempt: $a) {{ {TASK} }} }}"
RENEW = f"mutation($t: ID!, $a: Int!) {{ renew(taskId: $t, attempt: $a, leaseSeconds: 60) {{ {TASK} leaseExpiresAt }} }}"
RESULT = f"mutation($t: ID!, $a: Int!, $o: JSON) {{ result(taskId: $t, attempt: $a, output: $o, quality: 0.9) {{ {TASK} output }} }}"
FAIL = f"mutation($t: ID!, $a: Int!) {{ fail(taskId: $t, attempt: $a, reason: \"broke\") {{ {TASK} lastError }} }}"


@pytest.fixture(scope="module")
def operator(api) -> str:
    return api.token("operator")


@pytest.fixture(scope="module")
def reader(api) -> str:
    return api.token("reader")


def agent_with_token(api, team: str, **kw):
    agent = make_agent(api.db, team=team, **kw)
    return agent, api.token("agent", agent=agent.codename)


def test_create_task_as_operator_and_as_agent_with_an_idempotency_key(api, operator):
    team = api.team()
    agent, token = agent_with_token(api, team)
    got = api.gql(CREATE, {"input": {"title": "by the operator", "team": team, "priority": 7}}, operator)["createTask"]
    assert got["created"] and not got["ended"] and got["task"]["priority"] == 7 and got["task"]["createdBy"] is None
    data = {"input": {"title": "by an agent", "team": team, "idempotencyKey": "k-1"}}
    first = api.gql(CREATE, data, token)["createTask"]
    again = api.gql(CREATE, data, token)["createTask"]
    assert first["created"] and not again["created"] and first["task"]["id"] == again["task"]["id"]
    assert first["task"]["createdBy"] == str(agent.id)
    as_other = {"input": {"title": "x", "team": team, "createdBy": make_agent(api.db, team=team).codename}}
    assert api.error(CREATE, as_other, token)["extensions"]["code"] == "FORBIDDEN"
    by_op = api.gql(CREATE, {"input": {"title": "for an agent", "team": team, "createdBy": agent.codename}},
                    operator)["createTask"]
    assert by_op["task"]["createdBy"] == str(agent.id)


def test_create_task_waits_and_says_whether_the_task_ended(api, operator):
    team = api.team()
    got = api.gql(CREATE, {"input": {"title": "nobody works it", "team": team}, "wait": 0.3}, operator)["createTask"]
    assert got["created"] and not got["ended"] and got["task"]["status"] == "OPEN"
    err = api.error(CREATE, {"input": {"title": "t", "team": team}, "wait": -1}, operator)
    assert err["extensions"]["code"] == "INVALID_INPUT"


def test_bad_input_and_readers_write_nothing(api, operator, reader, api_sql):
    team = api.team()
    before = snapshot(api_sql)
    cases = [
        (CREATE, {"input": {"title": "", "team": team}}, operator, "INVALID_INPUT"),
        (CREATE, {"input": {"title": "t", "team": team, "priority": 99}}, operator, "INVALID_INPUT"),
        (CREATE, {"input": {"title": "t", "team": "no_such_team"}}, operator, "NOT_FOUND"),
        (CREATE, {"input": {"title": "t", "team": team}}, reader, "FORBIDDEN"),
        (CLAIM, {}, reader, "FORBIDDEN"),
        (CLAIM, {}, operator, "INVALID_INPUT"),  # an operator names the agent it acts for
        ("mutation { cascadeHormone(type: \"dopamine\", intensity: 0.5, team: \"alpha_delta\") }", {}, reader,
         "FORBIDDEN"),
        ("mutation { cascadeHormone(type: \"serotonin\", intensity: 0.5, team: \"alpha_delta\") }", {}, operator,
         "INVALID_INPUT"),
    ]
    for query, variables, token, code in cases:
        err = api.error(query, variables, token)
        assert err["extensions"]["code"] == code, (query, variables, err)
    assert snapshot(api_sql) == before


def test_the_agent_protocol_over_http(api):
    team = api.team()
    agent, token = agent_with_token(api, team)
    task = make_task(api.db, team=team, title="work me")
    claimed = api.gql(CLAIM, {}, token)["claim"]
    assert claimed == {"id": str(task.id), "status": "CLAIMED", "attempt": 1, "assignedTo": str(agent.id)}
    v = {"t": claimed["id"], "a": 1}
    assert api.gql(START, v, token)["start"]["status"] == "IN_PROGRESS"
    renewed = api.gql(RENEW, v, token)["renew"]
    assert datetime.fromisoformat(renewed["leaseExpiresAt"]) > datetime.now(UTC) + timedelta(seconds=30)
    done = api.gql(RESULT, {**v, "o": {"answer": 42}}, token)["result"]
    assert done["status"] == "COMPLETE" and done["output"] == {"answer": 42}
    assert api.gql(CLAIM, {}, token)["claim"] is None  # nothing left for it


def test_fail_retries_then_the_operator_acts_for_a_named_agent(api, operator):
    team = api.team()
    agent, token = agent_with_token(api, team)
    make_task(api.db, team=team, max_attempts=2)
    claimed = api.gql(CLAIM, {}, token)["claim"]
    failed = api.gql(FAIL, {"t": claimed["id"], "a": 1}, token)["fail"]
    assert failed["status"] == "OPEN" and failed["lastError"] == "broke"
    q = f"mutation($agent: String) {{ claim(agent: $agent) {{ {TASK} }} }}"
    # the retry waits out its backoff; the operator's claim for the agent finds nothing yet, or it
    got = api.gql(q, {"agent": agent.codename}, operator)["claim"]
    assert got is None or got["assignedTo"] == str(agent.id)


def test_a_stale_attempt_is_refused_and_changes_nothing(api, api_sql):
    team = api.team()
    agent, token = agent_with_token(api, team)
    make_task(api.db, team=team)
    first = api.gql(CLAIM, {"lease": 30}, token)["claim"]
    # the lease runs out (the beat's sweeper, an hour on) and the agent claims the task again
    later = datetime.now(UTC) + timedelta(hours=1)
    lifecycle.release_expired(api.db, now=later)
    second = lifecycle.claim(api.db, agent.id, now=later + timedelta(hours=1))
    assert second is not None and second.attempt == 2
    before = snapshot(api_sql)
    for query in (RESULT, START, RENEW, FAIL):
        err = api.error(query, {"t": first["id"], "a": 1}, token)
        assert err["extensions"]["code"] == "STALE_CLAIM", (query, err)
    assert snapshot(api_sql) == before
    done = api.gql(RESULT, {"t": first["id"], "a": 2}, token)["result"]
    assert done["status"] == "COMPLETE" and done["attempt"] == 2


def test_an_agent_token_acts_only_as_its_agent(api, api_sql):
    team = api.team()
    mine, token = agent_with_token(api, team)
    other, other_token = agent_with_token(api, team)
    make_task(api.db, team=team)
    q = f"mutation($agent: String) {{ claim(agent: $agent) {{ {TASK} }} }}"
    before = snapshot(api_sql)
    for name in (other.codename, str(other.id)):
        err = api.error(q, {"agent": name}, token)
        assert err["extensions"]["code"] == "FORBIDDEN" and other.codename in err["message"] or name in err["message"]
    assert snapshot(api_sql) == before
    theirs = api.gql(CLAIM, {}, other_token)["claim"]
    before = snapshot(api_sql)
    for query in (START, RENEW, RESULT, FAIL):
        err = api.error(query, {"t": theirs["id"], "a": theirs["attempt"]}, token)
        assert err["extensions"]["code"] == "FORBIDDEN", err
    assert snapshot(api_sql) == before
    # naming itself is allowed
    assert api.gql(q, {"agent": mine.codename}, token)["claim"] is None


def test_two_agents_claiming_over_http_never_share_a_task(api):
    team = api.team()
    tasks = {str(make_task(api.db, team=team).id) for _ in range(24)}
    tokens = [agent_with_token(api, team)[1] for _ in range(2)]

    def drain(token: str) -> list[str]:
        got = []
        while (task := api.gql(CLAIM, {}, token)["claim"]) is not None:
            got.append(task["id"])
            api.gql(RESULT, {"t": task["id"], "a": task["attempt"]}, token)
        return got

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(drain, tokens)
    assert not set(a) & set(b)
    assert sorted(a + b) == sorted(tasks)


def test_votes_comments_and_comment_votes(api, operator):
    team = api.team()
    author, author_token = agent_with_token(api, team)
    voter, token = agent_with_token(api, team)
    task = make_task(api.db, team=team, created_by=str(author.id))
    vote = "mutation($t: ID!, $v: Int!, $agent: String) { voteTask(taskId: $t, vote: $v, agent: $agent) { upvotes downvotes score previous } }"
    assert api.gql(vote, {"t": str(task.id), "v": 1}, token)["voteTask"] == {"upvotes": 1, "downvotes": 0, "score": 1,
                                                                             "previous": 0}
    assert api.gql(vote, {"t": str(task.id), "v": -1}, token)["voteTask"]["previous"] == 1
    err = api.error(vote, {"t": str(task.id), "v": 1}, author_token)
    assert err["extensions"]["code"] == "FORBIDDEN" and err["extensions"]["reason"] == "self_vote"
    assert api.error(vote, {"t": str(task.id), "v": 5}, token)["extensions"]["code"] == "INVALID_INPUT"
    by_op = api.gql(vote, {"t": str(task.id), "v": 1, "agent": make_agent(api.db, team=team).codename}, operator)
    assert by_op["voteTask"]["upvotes"] == 1
    comment = "mutation($t: ID!, $c: String!, $p: ID) { comment(taskId: $t, content: $c, parentId: $p) { id depth parentId content codename } }"
    top = api.gql(comment, {"t": str(task.id), "c": "looks good"}, token)["comment"]
    reply = api.gql(comment, {"t": str(task.id), "c": "thanks", "p": top["id"]}, author_token)["comment"]
    assert (top["depth"], reply["depth"], reply["parentId"]) == (0, 1, top["id"])
    cvote = "mutation($c: ID!, $v: Int!) { voteComment(commentId: $c, vote: $v) { commentId upvotes downvotes } }"
    assert api.gql(cvote, {"c": top["id"], "v": 1}, author_token)["voteComment"]["upvotes"] == 1


def test_review_claim_and_verdict(api):
    team = api.team()
    worker, token = agent_with_token(api, team)
    reviewer, reviewer_token = agent_with_token(api, team)
    make_task(api.db, team=team, review_quorum=1)
    task = api.gql(CLAIM, {}, token)["claim"]
    assert api.gql(RESULT, {"t": task["id"], "a": 1}, token)["result"]["status"] == "REVIEW"
    place = api.gql(f"mutation {{ claimReview {{ {TASK} }} }}", {}, reviewer_token)["claimReview"]
    assert place["id"] == task["id"]
    q = "mutation($t: ID!) { review(taskId: $t, verdict: 1, reason: \"fine\") { decided task { status } } }"
    err = api.error(q, {"t": task["id"]}, token)
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = api.gql(q, {"t": task["id"]}, reviewer_token)["review"]
    assert got == {"decided": "approved", "task": {"status": "COMPLETE"}}


def test_delegate_and_cancel(api, operator):
    team = api.team()
    agent, token = agent_with_token(api, team)
    make_task(api.db, team=team)
    task = api.gql(CLAIM, {}, token)["claim"]
    api.gql(START, {"t": task["id"], "a": 1}, token)
    q = """mutation($t: ID!, $a: Int!, $kids: [ChildInput!]!) {
        delegate(taskId: $t, attempt: $a, children: $kids, join: "all") { task { status } children created } }"""
    kids = [{"title": "part one", "key": "one"}, {"title": "part two", "key": "two"}]
    err = api.error(q, {"t": task["id"], "a": 2, "kids": kids}, token)  # an attempt never claimed
    assert err["extensions"]["code"] == "ILLEGAL_TRANSITION" and "claim it first" in err["message"]
    got = api.gql(q, {"t": task["id"], "a": 1, "kids": kids}, token)["delegate"]
    assert got["task"]["status"] == "WAITING" and got["created"] == 2 and len(got["children"]) == 2
    tree = api.gql("query($t: ID!) { task(id: $t) { delegationTree { level title } } }", {"t": task["id"]}, operator)
    assert [n["level"] for n in tree["task"]["delegationTree"]] == [0, 1, 1]
    cancel = "mutation($t: ID!) { cancelTask(taskId: $t, reason: \"not needed\") { cancelled task { status } } }"
    got = api.gql(cancel, {"t": task["id"]}, operator)["cancelTask"]
    assert got["task"]["status"] == "CANCELLED" and got["cancelled"] == 3


def test_cascade_hormone_is_the_operators(api, operator):
    team = api.team()
    make_agent(api.db, team=team)
    q = "mutation($t: String, $id: ID) { cascadeHormone(type: \"dopamine\", intensity: 0.5, team: $t, cascadeId: $id) }"
    first = api.gql(q, {"t": team, "id": "11111111-2222-3333-4444-555555555555"}, operator)["cascadeHormone"]
    again = api.gql(q, {"t": team, "id": "11111111-2222-3333-4444-555555555555"}, operator)["cascadeHormone"]
    assert first["id"] == again["id"] == "11111111-2222-3333-4444-555555555555"
    agent, token = agent_with_token(api, team)
    assert api.error(q, {"t": team}, token)["extensions"]["code"] == "FORBIDDEN"


def test_heartbeat_keeps_an_http_agent_alive(api, operator):
    team = api.team()
    agent, token = agent_with_token(api, team)
    q = "mutation { heartbeat { codename lastHeartbeat } }"
    got = api.gql(q, {}, token)["heartbeat"]
    assert got["codename"] == agent.codename
    assert datetime.fromisoformat(got["lastHeartbeat"]) > agent.last_heartbeat
    assert api.error(q, {}, operator)["extensions"]["code"] == "INVALID_INPUT"  # the operator names the agent


def test_an_agent_token_reads_only_what_its_agent_may_see(api, operator):
    mine, other = api.team(), api.team()
    agent, token = agent_with_token(api, mine)
    stranger = make_agent(api.db, team=other)
    hidden = make_task(api.db, team=other)
    lifecycle.claim(api.db, stranger.id)  # another team's claimed task: not this agent's to see
    visible = make_task(api.db, team=mine)
    q = "query($id: ID!) { task(id: $id) { id } }"
    assert api.gql(q, {"id": str(visible.id)}, token)["task"]["id"] == str(visible.id)
    assert api.error(q, {"id": str(hidden.id)}, token)["extensions"]["code"] == "NOT_FOUND"
    assert api.gql(q, {"id": str(hidden.id)}, operator)["task"]["id"] == str(hidden.id)
    board = "query($t: String) { taskBoard(team: $t, sortBy: NEW) { nodes { id } } }"
    assert api.gql(board, {"t": other}, token)["taskBoard"]["nodes"] == []
    assert api.gql(board, {"t": other}, operator)["taskBoard"]["nodes"] == [{"id": str(hidden.id)}]
