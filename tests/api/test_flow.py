"""Flow control over GraphQL against a real server: operator tokens pause, resume, limit and
budget a team or category; an agent's claims obey; usage reported in a result is counted; bad
input and other tokens are refused with a typed error and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import gates
from tests.conftest import make_agent, make_task, snapshot

GATE = "scopeKind scope held pausedAt pausedReason ratePerMinute budgetHourCost hourCost hourTokens inFlight"
PAUSE = f"mutation($s: String!, $r: String) {{ pauseScope(scopeKind: TEAM, scope: $s, reason: $r) {{ {GATE} }} }}"
RESUME = f"mutation($s: String!) {{ resumeScope(scopeKind: TEAM, scope: $s) {{ {GATE} }} }}"
RATE = f"mutation($k: ScopeKind!, $s: String!, $n: Int) {{ setRateLimit(scopeKind: $k, scope: $s, perMinute: $n) {{ {GATE} }} }}"
BUDGET = f"mutation($s: String!, $c: Float) {{ setBudget(scopeKind: TEAM, scope: $s, hourCost: $c) {{ {GATE} }} }}"
GATES = f"query($s: String) {{ gates(scopeKind: TEAM, scope: $s) {{ {GATE} }} }}"
CLAIM = "mutation { claim { id attempt concurrencyKey } }"
RESULT = "mutation($t: ID!, $a: Int!, $o: JSON) { result(taskId: $t, attempt: $a, output: $o) { id status } }"
CREATE = """mutation($input: CreateTaskInput!) {
  createTask(input: $input) { created task { id availableAt concurrencyKey concurrencyLimit } } }"""
USAGE = "query($a: String) { usage(agent: $a) { codename team model attempts tokensIn tokensOut cost } }"


@pytest.fixture(scope="module")
def operator(api) -> str:
    return api.token("operator")


def agent_with_token(api, team):
    agent = make_agent(api.db, team=team)
    return agent, api.token("agent", agent=agent.codename)


def test_pause_and_resume_hold_an_agents_claims(api, operator):
    team = api.team()
    _, token = agent_with_token(api, team)
    make_task(api.db, team=team)
    gate = api.gql(PAUSE, {"s": team, "r": "deploy"}, operator)["pauseScope"]
    assert gate["held"] == "paused" and gate["pausedReason"] == "deploy"
    assert api.gql(CLAIM, token=token)["claim"] is None
    assert api.gql(GATES, {"s": team}, operator)["gates"][0]["held"] == "paused"
    assert api.gql(RESUME, {"s": team}, operator)["resumeScope"]["held"] is None
    assert api.gql(CLAIM, token=token)["claim"] is not None


def test_a_budget_spent_through_a_result_stops_claims(api, operator):
    team = api.team()
    agent, token = agent_with_token(api, team)
    make_task(api.db, team=team)
    make_task(api.db, team=team)
    api.gql(BUDGET, {"s": team, "c": 0.5}, operator)
    task = api.gql(CLAIM, token=token)["claim"]
    usage = {"tokens_in": 10, "tokens_out": 5, "cost": 0.75, "model": "m-1"}
    api.gql(RESULT, {"t": task["id"], "a": task["attempt"], "o": {"text": "ok", "usage": usage}}, token)
    gate = api.gql(GATES, {"s": team}, operator)["gates"][0]
    assert gate["held"] == "budget" and gate["hourCost"] == 0.75 and gate["hourTokens"] == 15
    assert api.gql(CLAIM, token=token)["claim"] is None
    [row] = api.gql(USAGE, {"a": agent.codename}, operator)["usage"]
    assert (row["model"], row["tokensIn"], row["tokensOut"], row["cost"]) == ("m-1", 10, 5, 0.75)


def test_create_task_takes_not_before_and_a_concurrency_key(api, operator):
    team = api.team()
    at = datetime.now(UTC) + timedelta(hours=1)
    got = api.gql(CREATE, {"input": {"title": "later", "team": team, "notBefore": at.isoformat(),
                                     "concurrencyKey": "db-migrations"}}, operator)["createTask"]["task"]
    assert datetime.fromisoformat(got["availableAt"]) == at
    assert (got["concurrencyKey"], got["concurrencyLimit"]) == ("db-migrations", 1)
    _, token = agent_with_token(api, team)
    assert api.gql(CLAIM, token=token)["claim"] is None  # not before its time


@pytest.mark.parametrize(("query", "variables", "code", "message"), [
    (RATE, {"k": "TEAM", "s": "alpha_delta", "n": 0}, "INVALID_INPUT", "rate must be a whole number"),
    (RATE, {"k": "TEAM", "s": "nosuchteam", "n": 5}, "NOT_FOUND", "team nosuchteam not found"),
    (RATE, {"k": "CATEGORY", "s": "Bad Name", "n": 5}, "INVALID_INPUT", "category 'Bad Name' must be"),
    (BUDGET, {"s": "alpha_delta", "c": -1.0}, "INVALID_INPUT", "hour cost budget must be"),
    (CREATE, {"input": {"title": "x", "team": "alpha_delta", "concurrencyLimit": 2}}, "INVALID_INPUT",
     "concurrency_limit needs a concurrency_key"),
])
def test_bad_input_is_a_typed_error_and_changes_nothing(api, api_sql, operator, query, variables, code, message):
    before = snapshot(api_sql), gates.status(api.db)
    error = api.error(query, variables, operator)
    assert error["extensions"]["code"] == code and message in error["message"]
    assert (snapshot(api_sql), gates.status(api.db)) == before


def test_only_operators_set_gates(api):
    team = api.team()
    _, token = agent_with_token(api, team)
    assert api.error(PAUSE, {"s": team}, token)["extensions"]["code"] == "FORBIDDEN"
    assert api.error(PAUSE, {"s": team}, api.token("reader"))["extensions"]["code"] == "FORBIDDEN"
    assert gates.status(api.db, "team", team) == []
