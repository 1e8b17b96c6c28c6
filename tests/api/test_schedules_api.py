"""Schedules over GraphQL against a real server with real tokens: operators change them, readers
list them, agents may not; bad input is a typed one-line error that writes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import assert_one_line

FIELDS = "name cron timezone catchUp team title paused nextFire lastSlot missed lastError task"
ADD = f"""mutation($name: String!, $cron: String!, $tz: String!, $catchUp: String!, $task: CreateTaskInput!) {{
  addSchedule(name: $name, cron: $cron, timezone: $tz, catchUp: $catchUp, task: $task) {{ {FIELDS} }}
}}"""
LIST = f"{{ schedules {{ {FIELDS} }} }}"


@pytest.fixture(scope="module")
def operator(api) -> str:
    return api.token("operator")


@pytest.fixture(scope="module")
def reader(api) -> str:
    return api.token("reader")


def count(api_sql) -> int:
    return api_sql.execute("SELECT count(*) AS n FROM phoenix.schedules").fetchone()["n"]


def test_operators_change_schedules_and_readers_list_them(api, api_sql, operator, reader):
    team = api.team()
    got = api.gql(ADD, {"name": "api-hourly", "cron": "0 * * * *", "tz": "America/New_York", "catchUp": "all",
                        "task": {"title": "hourly", "team": team, "category": "noop", "priority": 6}},
                  operator)["addSchedule"]
    assert (got["timezone"], got["catchUp"], got["paused"], got["task"]["priority"]) == ("America/New_York", "all",
                                                                                        False, 6)
    assert got["nextFire"] is not None
    listed = api.gql(LIST, token=reader)["schedules"]
    assert "api-hourly" in [s["name"] for s in listed]
    one = api.gql('{ schedule(name: "api-hourly") { name team } }', token=reader)["schedule"]
    assert one == {"name": "api-hourly", "team": team}
    paused = api.gql('mutation { pauseSchedule(name: "api-hourly") { paused nextFire } }', token=operator)
    assert paused["pauseSchedule"] == {"paused": True, "nextFire": None}
    ran = api.gql('mutation { runScheduleNow(name: "api-hourly") { fired taskId schedule } }',
                  token=operator)["runScheduleNow"]
    assert ran["fired"] and ran["schedule"] == "api-hourly"
    keyed = 'mutation { runScheduleNow(name: "api-hourly", idempotencyKey: "k1") { fired taskId slot } }'
    first, retry = (api.gql(keyed, token=operator)["runScheduleNow"] for _ in range(2))
    assert first["fired"] and not retry["fired"] and retry == {**first, "fired": False}
    assert api.error('mutation { runScheduleNow(name: "api-hourly", idempotencyKey: "") { fired } }',
                     token=operator)["extensions"]["code"] == "INVALID_INPUT"
    task = api_sql.execute("SELECT team, title FROM phoenix.tasks WHERE id = %s", (ran["taskId"],)).fetchone()
    assert task == {"team": team, "title": "hourly"}
    resumed = api.gql('mutation { resumeSchedule(name: "api-hourly") { paused } }', token=operator)
    assert resumed["resumeSchedule"] == {"paused": False}
    assert api.gql('mutation { removeSchedule(name: "api-hourly") }', token=operator) == {"removeSchedule": True}
    assert "api-hourly" not in [s["name"] for s in api.gql(LIST, token=reader)["schedules"]]


def test_readers_and_agents_may_not_change_schedules_and_agents_may_not_list_them(api, api_sql, reader):
    from tests.conftest import make_agent

    team = api.team()
    agent = api.token("agent", agent=make_agent(api.db, team=team).codename)
    before = count(api_sql)
    for token in (reader, agent):
        err = api.error(ADD, {"name": "nope", "cron": "* * * * *", "tz": "UTC", "catchUp": "latest",
                              "task": {"title": "t", "team": team}}, token)
        assert err["extensions"]["code"] == "FORBIDDEN"
        for field in ("pauseSchedule", "resumeSchedule", "removeSchedule"):
            assert api.error(f'mutation {{ {field}(name: "x") }}' if field == "removeSchedule"
                             else f'mutation {{ {field}(name: "x") {{ name }} }}', token=token)[
                "extensions"]["code"] == "FORBIDDEN"
    assert api.error(LIST, token=agent)["extensions"]["code"] == "FORBIDDEN"
    assert count(api_sql) == before


@pytest.mark.parametrize(("cron", "tz", "catch_up", "task", "message"), [
    ("*/5 * * *", "UTC", "latest", {"title": "t"}, "has 4 fields"),
    ("61 * * * *", "UTC", "latest", {"title": "t"}, "bad minute"),
    ("* * * * *", "Moon/Base", "latest", {"title": "t"}, "time zone 'Moon/Base' not found"),
    ("* * * * *", "UTC", "sometimes", {"title": "t"}, "catch-up 'sometimes'"),
    ("* * * * *", "UTC", "latest", {"title": ""}, "title"),
    ("* * * * *", "UTC", "latest", {"title": "t", "priority": 0}, "priority"),
    ("* * * * *", "UTC", "latest", {"title": "t", "idempotencyKey": "k"}, "no idempotency_key"),
    ("* * * * *", "UTC", "latest", {"title": "t", "deadline": "2031-01-01T00:00:00Z"}, "no deadline"),
])
def test_bad_input_is_a_typed_one_line_error_that_writes_nothing(api, api_sql, operator, cron, tz, catch_up, task,
                                                                  message):
    team = api.team()
    before = count(api_sql)
    err = api.error(ADD, {"name": "bad", "cron": cron, "tz": tz, "catchUp": catch_up, "task": {"team": team, **task}},
                    operator)
    assert err["extensions"]["code"] == "INVALID_INPUT" and message in err["message"], err
    assert_one_line(err["message"])
    assert count(api_sql) == before


def test_unknown_schedule_is_not_found(api, operator, reader):
    assert api.error('{ schedule(name: "ghost") { name } }', token=reader)["extensions"]["code"] == "NOT_FOUND"
    assert api.error('mutation { runScheduleNow(name: "ghost") { fired } }', token=operator)[
        "extensions"]["code"] == "NOT_FOUND"
