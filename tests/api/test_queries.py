"""Every query over real HTTP against a real server: the board's pages in every sort, one task
with its history, agents, teams, consciousness and the dashboard; and who may read what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from phoenix_board.board import comments, consciousness, lifecycle, votes
from tests.conftest import make_agent, make_task

SORTS = ["HOT", "ACTIVE", "NEW", "OLD", "TOP", "CONTROVERSIAL", "MOST_COMMENTS"]

BOARD = """query($team: String, $sort: SortBy!, $first: Int!, $after: String, $status: [TaskStatus!], $category: String) {
  taskBoard(team: $team, sortBy: $sort, first: $first, after: $after, status: $status, category: $category) {
    nodes { id title status category score }
    pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture(scope="module")
def reader(api) -> str:
    return api.token("reader")


@pytest.mark.parametrize("sort", SORTS)
def test_task_board_pages_through_every_task_once_in_every_sort(api, reader, sort):
    team = api.team()
    made = {str(make_task(api.db, team=team, title=f"{sort} {i}").id) for i in range(7)}
    seen: list[str] = []
    after = None
    while True:
        page = api.gql(BOARD, {"team": team, "sort": sort, "first": 3, "after": after}, reader)["taskBoard"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(made)


def test_task_board_filters_by_status_category_and_assignee(api, reader):
    team = api.team()
    agent = make_agent(api.db, team=team)
    make_task(api.db, team=team, category="docs")
    other = make_task(api.db, team=team, category="build")
    claimed = lifecycle.claim(api.db, agent.id)
    page = api.gql(BOARD, {"team": team, "sort": "NEW", "first": 10, "category": "build"}, reader)["taskBoard"]
    assert [n["id"] for n in page["nodes"]] == [str(other.id)]
    page = api.gql(BOARD, {"team": team, "sort": "NEW", "first": 10, "status": ["CLAIMED"]}, reader)["taskBoard"]
    assert [n["id"] for n in page["nodes"]] == [str(claimed.id)]
    q = "query($a: String) { taskBoard(assignee: $a, sortBy: NEW) { nodes { id } } }"
    assert [n["id"] for n in api.gql(q, {"a": agent.codename}, reader)["taskBoard"]["nodes"]] == [str(claimed.id)]


def test_task_shows_votes_reviews_comments_history_dependencies_and_tree(api, reader):
    team = api.team()
    author, voter = make_agent(api.db, team=team), make_agent(api.db, team=team)
    base = make_task(api.db, team=team, created_by=str(author.id))
    task = make_task(api.db, team=team, depends_on=[str(base.id)], created_by=str(author.id))
    votes.vote(api.db, task.id, voter.id, 1, "useful")
    top = comments.add(api.db, task.id, voter.id, "first")
    comments.add(api.db, task.id, author.id, "a reply", top["id"])
    q = """query($id: ID!) { task(id: $id) {
        id title status dependsOn pendingDeps
        votes { codename value reason }
        reviews { verdict }
        comments { content depth parentId codename }
        history { kind seq }
        dependencies { id status }
        delegationTree { id level }
    } }"""
    got = api.gql(q, {"id": str(task.id)}, reader)["task"]
    assert got["votes"] == [{"codename": voter.codename, "value": 1, "reason": "useful"}]
    assert [(c["content"], c["depth"]) for c in got["comments"]] == [("first", 0), ("a reply", 1)]
    assert got["comments"][1]["parentId"] == str(top["id"])
    assert got["history"][0]["kind"] == "submitted"
    assert got["dependencies"] == [{"id": str(base.id), "status": "OPEN"}] and got["pendingDeps"] == 1
    assert got["delegationTree"] == [{"id": str(task.id), "level": 0}] and got["reviews"] == []
    deps = api.gql("query($id: ID!) { task(id: $id) { dependents } }", {"id": str(base.id)}, reader)["task"]
    assert deps["dependents"] == [str(task.id)]


def test_unknown_task_is_not_found_and_a_bad_id_is_invalid_input(api, reader):
    q = "query($id: ID!) { task(id: $id) { id } }"
    assert api.error(q, {"id": "00000000-0000-0000-0000-000000000001"}, reader)["extensions"]["code"] == "NOT_FOUND"
    assert api.error(q, {"id": "nope"}, reader)["extensions"]["code"] == "INVALID_INPUT"


def test_agent_agents_and_teams(api, reader):
    team = api.team()
    agent = make_agent(api.db, team=team, specialization=["docs"])
    q = """query($c: String, $id: ID, $team: String) {
        byName: agent(codename: $c) { id codename team specialization hormoneLevels { dopamine cortisol } trustCoefficient }
        byId: agent(id: $id) { codename }
        agents(team: $team) { codename }
        teams { name agents liveTasks }
    }"""
    got = api.gql(q, {"c": agent.codename, "id": str(agent.id), "team": team}, reader)
    assert got["byName"]["id"] == str(agent.id) and got["byName"]["specialization"] == ["docs"]
    assert got["byName"]["hormoneLevels"]["cortisol"] == pytest.approx(0.3)
    assert got["byId"]["codename"] == agent.codename
    assert got["agents"] == [{"codename": agent.codename}]
    assert {"name": team, "agents": 1, "liveTasks": 0} in got["teams"]
    err = api.error("{ agent { id } }", None, reader)
    assert err["extensions"]["code"] == "INVALID_INPUT"


def test_consciousness_latest_range_and_dashboard(api, reader):
    make_agent(api.db)
    now = datetime.now(UTC)
    consciousness.snapshot(api.db, now=now)
    consciousness.snapshot(api.db, now=now - timedelta(hours=3))
    consciousness.refresh_dashboard(api.db)
    consciousness.refresh_hourly(api.db)
    q = """query($start: DateTime!, $long: DateTime!) {
        consciousness { team globalConsciousness activeAgents }
        short: consciousnessRange(start: $start) { resolution points { team time } hours { bucket } }
        long: consciousnessRange(start: $long) { resolution hours { team avgConsciousness } }
        dashboard { team totalAgents activeAgents avgTrust tasks24h openTasks currentConsciousness refreshedAt }
    }"""
    got = api.gql(q, {"start": (now - timedelta(minutes=5)).isoformat(),
                      "long": (now - timedelta(days=2)).isoformat()}, reader)
    assert "global" in {row["team"] for row in got["consciousness"]}
    assert got["short"]["resolution"] == "raw" and {p["team"] for p in got["short"]["points"]} >= {"global"}
    assert got["long"]["resolution"] == "hourly" and "global" in {h["team"] for h in got["long"]["hours"]}
    board = {row["team"]: row for row in got["dashboard"]}
    assert board["global"]["totalAgents"] >= 1 and board["global"]["refreshedAt"]
    err = api.error("{ consciousnessRange(start: \"2026-01-02T00:00:00Z\", end: \"2026-01-01T00:00:00Z\") { resolution } }",
                    None, reader)
    assert err["extensions"]["code"] == "INVALID_INPUT"


def test_no_token_is_401_and_a_bad_one_too(api):
    r = api.post("{ teams { name } }")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    r = api.post("{ teams { name } }", token="pbt_" + "x" * 43)
    assert r.status_code == 401 and r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "x" * 43 not in api.server_log()


def test_health_readiness_and_metrics(api, reader):
    assert httpx.get(f"{api.base}/healthz").text == "ok\n"
    assert httpx.get(f"{api.base}/readyz").json() == {"ready": True}
    api.gql("{ teams { name } }", None, reader)
    api.post("{ teams { name } }")
    text = httpx.get(f"{api.base}/metrics").text
    assert 'phoenix_api_request_seconds_count{operation="query teams"}' in text
    assert "phoenix_api_requests_in_flight" in text and "phoenix_api_subscriptions_open" in text
    failures = [line for line in text.splitlines() if line.startswith("phoenix_api_auth_failures_total")]
    assert failures and float(failures[0].split()[-1]) >= 1


def test_graphiql_only_for_a_signed_in_person(api, reader):
    page = {"Accept": "text/html"}
    r = httpx.get(f"{api.base}/graphql", headers=page)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fgraphql"
    form = {"Origin": api.base}  # the web's sign-in takes posts from its own pages only (tests/web)
    r = httpx.post(f"{api.base}/signin", data={"token": "wrong"}, headers=form)
    assert r.status_code == 401
    r = httpx.post(f"{api.base}/signin", data={"token": reader, "next": "/graphql"}, headers=form)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert r.headers["location"] == "/graphql"
    r = httpx.get(f"{api.base}/graphql", headers=page, cookies={"phoenix_token": reader})
    assert r.status_code == 200 and "graphiql" in r.text.lower()
