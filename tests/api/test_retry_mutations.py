"""Retry and requeue over GraphQL (docs/operations/retry.md): retryTask and bulkTasks against a real
server with real tokens; only the operator's; a dry run by default; bad filters refused with one
typed error that changes nothing."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import lifecycle
from tests.conftest import make_agent, make_task, snapshot

RETRY = "mutation($t: ID!) { retryTask(taskId: $t, reason: \"fixed\") { retried revived task { status attempt } } }"
BULK = """mutation($a: BulkAction!, $f: TaskFilterInput!, $dry: Boolean!) {
  bulkTasks(action: $a, filter: $f, dryRun: $dry) { action dryRun matched done skipped also errors }
}"""


def snap(api) -> dict:
    with psycopg.connect(api.url, row_factory=dict_row, autocommit=True) as conn:
        return snapshot(conn)


@pytest.fixture(scope="module")
def operator(api) -> str:
    return api.token("operator")


def failed_tasks(api, team: str, n: int) -> list:
    agent = make_agent(api.db, team=team)
    ids = [make_task(api.db, team=team, max_attempts=1).id for _ in range(n)]
    for _ in ids:
        t = lifecycle.claim_start(api.db, agent.id)
        lifecycle.fail(api.db, t.id, agent.id, t.attempt, "model timeout")
    return ids


def test_retry_task_is_the_operators_and_puts_the_task_back(api, operator):
    team = api.team()
    (task,) = failed_tasks(api, team, 1)
    agent_token = api.token("agent", agent=make_agent(api.db, team=team).codename)
    assert api.error(RETRY, {"t": str(task)}, agent_token)["extensions"]["code"] == "FORBIDDEN"
    got = api.gql(RETRY, {"t": str(task)}, operator)["retryTask"]
    assert got == {"retried": 1, "revived": 0, "task": {"status": "OPEN", "attempt": 1}}
    err = api.error(RETRY, {"t": str(task)}, operator)  # open now: not retryable
    assert err["extensions"]["code"] == "ILLEGAL_TRANSITION" and "\n" not in err["message"]


def test_bulk_tasks_counts_by_default_and_acts_when_asked(api, operator):
    team = api.team()
    ids = failed_tasks(api, team, 3)
    before = snap(api)
    dry = api.gql(BULK, {"a": "RETRY", "f": {"team": team, "reasonLike": "%timeout%"}, "dry": True}, operator)
    assert dry["bulkTasks"]["matched"] == 3 and dry["bulkTasks"]["done"] == 0
    assert snap(api) == before
    done = api.gql(BULK, {"a": "RETRY", "f": {"team": team}, "dry": False}, operator)["bulkTasks"]
    assert (done["matched"], done["done"], done["skipped"]) == (3, 3, 0)
    assert {lifecycle.get(api.db, t).status for t in ids} == {"open"}
    cancel = api.gql(BULK, {"a": "CANCEL", "f": {"team": team}, "dry": False}, operator)["bulkTasks"]
    assert cancel["done"] == 3


@pytest.mark.parametrize("flt", [{}, {"status": ["open"]}, {"team": "Bad Team!"}, {"reasonLike": "a\u0000b"},
                                 {"status": ["nonsense"]}])
def test_bad_bulk_filters_are_one_typed_error_and_change_nothing(api, operator, flt):
    api.team()
    before = snap(api)
    err = api.error(BULK, {"a": "RETRY", "f": flt, "dry": False}, operator)
    assert err["extensions"]["code"] == "INVALID_INPUT" and "\n" not in err["message"]
    assert snap(api) == before
