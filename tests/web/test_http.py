"""The web board over plain HTTP (no browser): every page renders, user text is escaped, the
session ends with sign-out, revocation or expiry, cross-site posts are refused and change nothing,
and the forms work without JavaScript (POST, then a redirect)."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from phoenix_board.api import tokens
from phoenix_board.board import comments, lifecycle, votes
from tests.conftest import free_port, make_agent, make_task, start_cli, stop_cli, wait_ready

pytestmark = pytest.mark.slow  # a server process per module

HOSTILE_TITLE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
HOSTILE_COMMENT = '"><img src=x onerror=alert(3)><script>alert(4)</script>'


def _task_path(task) -> str:
    return f"/t/{task.id.hex}"


def test_every_page_renders_for_an_operator(web):
    team = web.team()
    a = make_agent(web.db, team=team, codename=f"pg-{team}")
    t = make_task(web.db, team=team, title="render me", payload={"n": 1, "nested": {"k": [1, 2]}})
    c = web.client(web.token("operator"))
    board = c.get("/", params={"team": team, "sort": "new"})
    assert board.status_code == 200 and "render me" in board.text
    for sort in ("hot", "active", "new", "old", "top", "controversial", "most_comments"):
        assert c.get("/", params={"sort": sort}).status_code == 200, sort
    page = c.get(_task_path(t))
    assert page.status_code == 200
    assert "&#34;nested&#34;" in page.text or '"nested"' in page.text  # the payload as formatted JSON
    assert c.get("/agents").status_code == 200
    assert a.codename in c.get(f"/a/{a.codename}").text
    assert "<svg" in c.get(f"/a/{a.codename}").text
    assert c.get("/federation").status_code == 200
    assert c.get("/federation", params={"hours": 168}).status_code == 200
    assert c.get("/console").status_code == 200


def test_a_short_id_leads_to_the_task(web):
    t = make_task(web.db, team=web.team(), title="short id")
    c = web.client(web.token("operator"))
    r = c.get(f"/t/{t.id.hex[-8:]}")
    assert r.status_code == 303 and r.headers["location"] == _task_path(t)


def test_bad_input_is_one_line_and_a_status(web):
    c = web.client(web.token("operator"))
    r = c.get("/", params={"sort": "sideways"})
    assert r.status_code == 400 and "unknown sort" in r.text
    assert c.get("/t/ffffffffffffffffffffffffffffffff").status_code == 404
    assert c.get("/t/zz").status_code == 400
    assert c.get("/a/nobody-here").status_code == 404
    r = c.get("/", params={"after": "garbage"})
    # the board's message, said to every door: no command-line option in it
    assert r.status_code == 400 and "start again from the first page" in r.text and "--cursor" not in r.text
    assert c.get("/federation", params={"hours": "5"}).status_code == 400
    # a team filter is held to the team-name rule on every page that takes one, before SQL sees it
    # (a NUL byte on /agents was the driver's message before)
    for path in ("/", "/agents"):
        for team in ("\x00", "<b>", "Alpha"):
            r = c.get(path, params={"team": team})
            assert r.status_code == 400 and "lowercase letters" in r.text, (path, team, r.text[:300])


def test_an_unsigned_visitor_is_sent_to_sign_in(web):
    r = web.client().get("/agents")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=%2Fagents")


def test_user_text_is_escaped(web):
    team = web.team()
    author = make_agent(web.db, team=team, codename=f"esc-{team}")
    t = make_task(web.db, team=team, title=HOSTILE_TITLE, description=HOSTILE_TITLE)
    comments.add(web.db, t.id, author.id, HOSTILE_COMMENT)
    c = web.client(web.token("operator"))
    for path in (_task_path(t), f"/?team={team}", f"/t/{t.id.hex}/row"):
        text = c.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert html.escape(HOSTILE_TITLE, quote=False).split("&gt;")[0] in text or "&lt;script&gt;" in text


def test_forms_work_without_javascript(web):
    team = web.team()
    owner = make_agent(web.db, team=team, codename=f"own-{team}")
    voter = make_agent(web.db, team=team, codename=f"vot-{team}")
    t = make_task(web.db, team=team, created_by=str(owner.id))
    c = web.client(web.token("agent", agent=voter.codename))
    csrf = web.csrf(c.get(_task_path(t)).text)
    r = c.post(f"{_task_path(t)}/vote", data={"csrf": csrf, "vote": "1", "next": _task_path(t)})
    assert r.status_code == 303 and r.headers["location"].startswith(_task_path(t) + "?note=")
    assert lifecycle.get(web.db, t.id).upvotes == 1
    r = c.post(f"{_task_path(t)}/comment", data={"csrf": csrf, "content": "top", "next": _task_path(t)})
    assert r.status_code == 303
    top = comments.thread(web.db, t.id)[0]
    r = c.post(f"{_task_path(t)}/comment", data={"csrf": csrf, "content": "a reply", "parent": top["id"].hex,
                                                 "next": _task_path(t)})
    assert r.status_code == 303
    thread = comments.thread(web.db, t.id)
    assert [x["depth"] for x in thread] == [0, 1] and thread[1]["parent_comment_id"] == top["id"]
    assert c.post(f"/c/{top['id'].hex}/vote", data={"csrf": csrf, "vote": "-1"}).status_code == 403  # its own
    oc = web.client(web.token("agent", agent=owner.codename))
    r = oc.post(f"/c/{top['id'].hex}/vote", data={"csrf": web.csrf(oc.get(_task_path(t)).text), "vote": "-1",
                                                  "next": _task_path(t)})
    assert r.status_code == 303
    assert comments.thread(web.db, t.id)[0]["downvotes"] == 1
    # the page's script gets JSON instead of a redirect
    r = c.post(f"{_task_path(t)}/vote", data={"csrf": csrf, "vote": "0"}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 200 and "note" in r.json()
    assert lifecycle.get(web.db, t.id).upvotes == 0
    # refused: one line, and nothing changed
    r = c.post(f"{_task_path(t)}/vote", data={"csrf": csrf, "vote": "7"}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 400 and "vote must be one of" in r.json()["error"]
    r = c.post(f"{_task_path(t)}/comment", data={"csrf": csrf, "content": ""})
    assert r.status_code == 400
    assert len(comments.thread(web.db, t.id)) == 2


def test_an_agent_may_not_vote_on_its_own_task_through_the_web(web):
    team = web.team()
    owner = make_agent(web.db, team=team, codename=f"self-{team}")
    t = make_task(web.db, team=team, created_by=str(owner.id))
    c = web.client(web.token("agent", agent=owner.codename))
    csrf = web.csrf(c.get(_task_path(t)).text)
    r = c.post(f"{_task_path(t)}/vote", data={"csrf": csrf, "vote": "1"})
    assert r.status_code == 403
    assert votes.votes_for(web.db, t.id) == []


def test_cross_site_posts_are_refused_and_change_nothing(web):
    team = web.team()
    owner = make_agent(web.db, team=team, codename=f"xo-{team}")
    voter = make_agent(web.db, team=team, codename=f"xv-{team}")
    t = make_task(web.db, team=team, created_by=str(owner.id))
    c = web.client(web.token("agent", agent=voter.codename))
    csrf = web.csrf(c.get(_task_path(t)).text)
    path = f"{_task_path(t)}/vote"
    assert c.post(path, data={"vote": "1"}).status_code == 403  # no form token
    assert c.post(path, data={"csrf": "0" * 64, "vote": "1"}).status_code == 403  # a wrong one
    assert c.post(path, data={"csrf": csrf, "vote": "1"}, headers={"Origin": "http://evil.example"}).status_code == 403
    bare = web.client()
    bare.cookies = c.cookies
    del bare.headers["Origin"]
    assert bare.post(path, data={"csrf": csrf, "vote": "1"}).status_code == 403  # neither Origin nor Referer
    # another session's token does not fit this one
    other = web.client(web.token("agent", agent=voter.codename))
    assert other.post(path, data={"csrf": csrf, "vote": "1"}).status_code == 403
    assert lifecycle.get(web.db, t.id).upvotes == 0


def test_sign_out_ends_the_session(web):
    c = web.client(web.token("operator"))
    csrf = web.csrf(c.get("/console").text)
    r = c.post("/signout", data={"csrf": csrf})
    assert r.status_code == 303
    assert "phoenix_token" not in c.cookies
    assert c.get("/console").status_code == 303


def test_a_revoked_or_expired_token_ends_the_session(web):
    token = web.token("operator")
    c = web.client(token)
    assert c.get("/console").status_code == 200
    tokens.revoke(web.db, web.db.one("api_token_lookup", digest=tokens.digest(token))["id"])
    r = c.get("/console")
    assert r.status_code == 303 and "revoked" in r.headers["location"]
    assert "phoenix_token" not in c.cookies  # the session is over: the cookie is dropped
    assert web.client().post("/signin", data={"token": token}).status_code == 401
    # a token that expired an hour ago (made as of two hours ago, to last one)
    from datetime import UTC, datetime, timedelta

    old = tokens.create(web.db, "operator", expires="1h", now=datetime.now(UTC) - timedelta(hours=2)).token
    r = web.client().post("/signin", data={"token": old})
    assert r.status_code == 401 and "expired" in r.text


def test_the_console_is_for_operators_and_its_actions_work(web):
    team = web.team()
    parent = make_task(web.db, team=team, title="to cancel")
    boosted = make_task(web.db, team=team, title="to boost")
    agent = make_agent(web.db, team=team, codename=f"dec-{team}")
    reader = web.client(web.token("reader"))
    seen = reader.get("/console")
    assert seen.status_code == 200 and "Depth by team" in seen.text and "/console/cancel" not in seen.text
    agent_viewer = make_agent(web.db, team=team, codename=f"cv-{team}")
    assert web.client(web.token("agent", agent=agent_viewer.codename)).get("/console").status_code == 403
    c = web.client(web.token("operator"))
    csrf = web.csrf(c.get("/console").text)
    r = c.post("/console/cancel", data={"csrf": csrf, "task": parent.id.hex[-8:], "next": "/console"})
    assert r.status_code == 303, r.text
    assert lifecycle.get(web.db, parent.id).status.value == "cancelled"
    r = c.post("/console/boost", data={"csrf": csrf, "task": boosted.id.hex, "priority": "9"})
    assert r.status_code == 303
    assert lifecycle.get(web.db, boosted.id).priority == 9
    assert c.post("/console/boost", data={"csrf": csrf, "task": boosted.id.hex, "priority": "11"}).status_code == 400
    assert c.post("/console/boost", data={"csrf": csrf, "task": parent.id.hex, "priority": "3"}).status_code == 409
    r = c.post("/console/decommission", data={"csrf": csrf, "agent": agent.codename})
    assert r.status_code == 303
    assert web.db.one("agent_get", agent=agent.id)["decommissioned_at"] is not None
    # a reader's post is refused, and changes nothing
    rcsrf = web.csrf(reader.get("/").text) if 'name="csrf"' in reader.get("/").text else None
    assert rcsrf is not None
    assert reader.post("/console/boost", data={"csrf": rcsrf, "task": boosted.id.hex, "priority": "2"}).status_code == 403
    assert lifecycle.get(web.db, boosted.id).priority == 9


def _failed(web, team: str, reason: str):
    """A task of ``team`` failed for good (one attempt), with ``reason``."""
    worker = make_agent(web.db, team=team)
    task = make_task(web.db, team=team, title=f"fails: {reason}", max_attempts=1)
    claimed = lifecycle.claim(web.db, worker.id)
    assert claimed is not None and claimed.id == task.id
    assert lifecycle.fail(web.db, task.id, worker.id, claimed.attempt, reason).status.value == "failed"
    return task


def test_the_console_pauses_resumes_and_retries_and_refuses_bad_input_and_readers(web):
    from phoenix_board.board import gates

    team = web.team()
    c = web.client(web.token("operator"))
    csrf = web.csrf(c.get("/console").text)
    r = c.post("/console/pause", data={"csrf": csrf, "kind": "team", "scope": team, "reason": "maintenance"})
    assert r.status_code == 303 and "paused" in r.headers["location"]
    [held] = [g for g in gates.paused(web.db) if g["scope"] == team]
    assert (held["held"], held["paused_reason"]) == ("paused", "maintenance")
    page = c.get("/console").text
    assert f'id="gate-team-{team}"' in page and "maintenance" in page  # the console shows what it holds
    for bad in ({"kind": "teem", "scope": team}, {"kind": "team", "scope": "Not A Name"}):
        r = c.post("/console/pause", data={"csrf": csrf, **bad}, headers={"X-Phoenix-Fetch": "1"})
        assert r.status_code == 400 and "\n" not in r.json()["error"], bad
    reader = web.client(web.token("reader"))
    rcsrf = web.csrf(reader.get("/").text)
    assert reader.post("/console/resume", data={"csrf": rcsrf, "kind": "team", "scope": team}).status_code == 403
    assert [g["scope"] for g in gates.paused(web.db) if g["scope"] == team] == [team]  # still paused
    assert c.post("/console/resume", data={"csrf": csrf, "kind": "team", "scope": team}).status_code == 303
    assert not [g for g in gates.paused(web.db) if g["scope"] == team]

    one = _failed(web, team, "flaky disk")
    rest = [_failed(web, team, "quota exceeded") for _ in range(2)]
    assert reader.post("/console/retry", data={"csrf": rcsrf, "task": one.id.hex}).status_code == 403
    r = c.post("/console/retry", data={"csrf": csrf, "task": one.id.hex[-8:]}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 200 and "open again" in r.json()["note"]
    assert lifecycle.get(web.db, one.id).status.value == "open"
    r = c.post("/console/retry", data={"csrf": csrf, "task": one.id.hex}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 409  # open now: nothing to retry
    bulk = {"csrf": csrf, "team": team, "status": "failed", "reason_like": "%quota%"}
    r = c.post("/console/retry-bulk", data=bulk, headers={"X-Phoenix-Fetch": "1"})
    assert r.json()["note"].startswith("2 tasks match")  # counted first: nothing changed
    assert {lifecycle.get(web.db, t.id).status.value for t in rest} == {"failed"}
    r = c.post("/console/retry-bulk", data={**bulk, "expect": "3"}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 409 and "2 tasks match now" in r.json()["error"]
    assert {lifecycle.get(web.db, t.id).status.value for t in rest} == {"failed"}
    r = c.post("/console/retry-bulk", data={**bulk, "team": "Bad Team"}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 400 and "team" in r.json()["error"]
    r = c.post("/console/retry-bulk", data={"csrf": csrf}, headers={"X-Phoenix-Fetch": "1"})  # no filter at all
    assert r.status_code == 400 and "at least one" in r.json()["error"]
    assert reader.post("/console/retry-bulk", data={**bulk, "csrf": rcsrf, "expect": "2"}).status_code == 403
    r = c.post("/console/retry-bulk", data={**bulk, "expect": "2"}, headers={"X-Phoenix-Fetch": "1"})
    assert r.status_code == 200 and r.json()["note"].startswith("retried 2 of 2"), r.text
    assert {lifecycle.get(web.db, t.id).status.value for t in rest} == {"open"}


def test_graphiql_still_opens_for_a_signed_in_person(web):
    c = web.client(web.token("reader"))
    r = c.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and re.search(r"graphiql", r.text, re.I)


def _in_review_for_a_person(web, team: str):
    """A task whose quorum needs a person, its result submitted by an agent: waiting in review."""
    from phoenix_board.board import members

    worker = make_agent(web.db, team=team, codename=f"rw-{team}")
    task = make_task(web.db, team=team, title="needs a person", review_quorum=1, needs_person=True)
    claimed = lifecycle.claim(web.db, worker.id)
    lifecycle.result(web.db, claimed.id, worker.id, claimed.attempt, {"answer": 42}, 0.9)
    assert lifecycle.get(web.db, task.id).status.value == "review"
    member, _ = members.add(web.db, f"person-{team}", team)
    return task, member


def test_a_member_reviews_a_task_that_waits_for_a_person(web):
    team = web.team()
    task, member = _in_review_for_a_person(web, team)
    op = web.client(web.token("operator"))
    assert "needs a person" in op.get("/console").text  # the console lists what waits for people
    c = web.client(tokens.create(web.db, "member", member=member.codename).token)
    page = c.get(_task_path(task)).text
    assert "Your verdict" in page
    csrf = web.csrf(page)
    assert c.post(f"{_task_path(task)}/review", data={"csrf": csrf, "verdict": "maybe"}).status_code == 400
    assert lifecycle.get(web.db, task.id).status.value == "review"
    r = c.post(f"{_task_path(task)}/review", data={"csrf": csrf, "verdict": "approve", "reason": "checked",
                                                   "next": _task_path(task)})
    assert r.status_code == 303, r.text
    assert lifecycle.get(web.db, task.id).status.value == "complete"
    # a member votes and comments like an agent
    assert c.post(f"{_task_path(task)}/vote", data={"csrf": csrf, "vote": "1"}).status_code == 303
    assert lifecycle.get(web.db, task.id).upvotes == 1
    assert member.codename in c.get("/agents").text  # listed among the members
    assert "<svg" in c.get(f"/a/{member.codename}").text  # a member's page: its trust over time


def test_only_a_member_sends_a_verdict_from_the_web(web):
    team = web.team()
    task, _ = _in_review_for_a_person(web, team)
    agent = make_agent(web.db, team=team, codename=f"ra-{team}")
    c = web.client(web.token("agent", agent=agent.codename))
    csrf = web.csrf(c.get(_task_path(task)).text)
    assert c.post(f"{_task_path(task)}/review", data={"csrf": csrf, "verdict": "approve"}).status_code == 403
    assert lifecycle.get(web.db, task.id).status.value == "review"


def test_with_public_reads_anyone_reads_and_only_a_session_acts(web, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "public.log"
    proc = start_cli(["serve", "--port", str(port)], {**web.env, "PHOENIX_API_PUBLIC_READ": "1"}, log)
    try:
        wait_ready(base, proc, log)
        team = web.team()
        t = make_task(web.db, team=team, title="open to all")
        with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as anyone:
            assert "open to all" in anyone.get("/", params={"team": team}).text
            page = anyone.get(_task_path(t)).text
            assert "Sign in</a> to vote" in page and 'name="csrf"' not in page
            r = anyone.post(f"{_task_path(t)}/vote", data={"vote": "1"})
            assert r.status_code == 303 and r.headers["location"].startswith("/signin")
            assert anyone.get("/console").status_code == 403  # the console is an operator's and a reader's
        assert lifecycle.get(web.db, t.id).upvotes == 0
    finally:
        stop_cli(proc)
