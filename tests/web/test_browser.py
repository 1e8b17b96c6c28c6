"""The web board in a real browser (Playwright driving the system's Chromium) against a real
server, PostgreSQL, Redis, the event relay and, for the live test, a pool of real Celery agents."""

from __future__ import annotations

from typing import Any

import pytest

from phoenix_board.board import comments, delegation, gates, lifecycle
from tests.conftest import Pools, make_agent, make_task, wait_for

pytestmark = pytest.mark.slow  # a server and a browser per module

HOSTILE = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2">'


@pytest.fixture
def page(browser: Any, web: Any) -> Any:
    context = browser.new_context(base_url=web.base)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def sign_in(page: Any, token: str) -> None:
    page.goto("/signin")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/signin" not in url)


def wait_live(page: Any) -> None:
    """Until the page's subscriptions are open. A selector, not wait_for_function: Playwright polls
    a string predicate with eval, which the board's Content-Security-Policy refuses."""
    page.locator("body[data-live-ready='1']").wait_for(state="attached")


def test_sort_and_page_the_board(page, web):
    team = web.team()
    made = [make_task(web.db, team=team, title=f"paged {i:02d}") for i in range(35)]
    sign_in(page, web.token("reader"))
    page.goto(f"/?team={team}&sort=new")
    titles = page.locator("td.title > a").all_inner_texts()
    assert titles[0] == "paged 34" and len(titles) == 30
    page.click("nav.sorts >> text=old")
    page.wait_for_url("**sort=old**")
    assert page.locator("td.title > a").first.inner_text() == "paged 00"
    page.click("text=Next page")
    page.wait_for_url("**after=**")
    assert page.locator("td.title > a").all_inner_texts() == [f"paged {i:02d}" for i in range(30, 35)]
    page.click("td.title > a >> nth=0")
    page.wait_for_url(f"**/t/{made[30].id.hex}")
    assert page.locator("h1").inner_text() == "paged 30"


def test_sign_in_vote_comment_and_reply(page, web):
    team = web.team()
    owner = make_agent(web.db, team=team, codename=f"bo-{team}")
    voter = make_agent(web.db, team=team, codename=f"bv-{team}")
    t = make_task(web.db, team=team, title="vote on me", created_by=str(owner.id))
    sign_in(page, web.token("agent", agent=voter.codename))
    page.goto(f"/t/{t.id.hex}")
    page.click("button[aria-label=Upvote]")
    page.locator("#js-note").filter(has_text="vote recorded").wait_for()
    wait_for(lambda: lifecycle.get(web.db, t.id).upvotes == 1, what="the vote")
    page.locator("#live-summary").filter(has_text="+1 / -0").wait_for()
    page.fill("#new-comment", "first thoughts")
    page.click("form[aria-label=Comment] button[type=submit]")
    page.locator("#live-comments").filter(has_text="first thoughts").wait_for()
    page.click("#live-comments details summary")
    page.locator("#live-comments details textarea").fill("a reply to that")
    page.click("#live-comments details button[type=submit]")
    page.locator("#live-comments li.depth-1").filter(has_text="a reply to that").wait_for()
    thread = comments.thread(web.db, t.id)
    assert [(c["depth"], c["content"]) for c in thread] == [(0, "first thoughts"), (1, "a reply to that")]


def test_an_agent_completes_a_task_without_a_reload(page, web, tmp_path):
    team = web.team()
    sign_in(page, web.token("reader"))
    page.goto(f"/?team={team}&sort=new")
    wait_live(page)
    page.evaluate("window.__sameDocument = true")
    pools = Pools(web.env, tmp_path)
    try:
        pools.start(team=team, agents=1, name=f"{team}-pool")
        t = make_task(web.db, team=team, title="watch me finish", category="noop")
        row = page.locator(f"#task-{t.id.hex}")
        row.wait_for()  # the new task arrived without a reload
        row.locator(".status", has_text="complete").wait_for(timeout=120_000)
    finally:
        pools.stop()
    assert page.evaluate("window.__sameDocument") is True  # the same document: nothing reloaded


def test_a_second_sessions_vote_and_comment_appear_on_open_pages_without_a_reload(browser, page, web):
    team = web.team()
    owner = make_agent(web.db, team=team, codename=f"lo-{team}")
    voter = make_agent(web.db, team=team, codename=f"lv-{team}")
    t = make_task(web.db, team=team, title="watched live", created_by=str(owner.id))
    sign_in(page, web.token("reader"))
    board = page.context.new_page()
    board.goto(f"/?team={team}&sort=new")
    page.goto(f"/t/{t.id.hex}")
    for pg in (board, page):
        wait_live(pg)
        pg.evaluate("window.__sameDocument = true")
    other = browser.new_context(base_url=web.base)
    try:
        second = other.new_page()
        sign_in(second, web.token("agent", agent=voter.codename))
        second.goto(f"/t/{t.id.hex}")
        second.click("button[aria-label=Upvote]")
        second.locator("#js-note").filter(has_text="vote recorded").wait_for()
        page.locator("#live-summary").filter(has_text="+1 / -0").wait_for()
        board.locator(f"#task-{t.id.hex} .score", has_text="1").wait_for()
        second.fill("#new-comment", "said in another session")
        second.click("form[aria-label=Comment] button[type=submit]")
        page.locator("#live-comments .prose", has_text="said in another session").wait_for()
        page.locator("#h-comments", has_text="Comments (1)").wait_for()
        board.locator(f"#task-{t.id.hex} [data-label=comments]", has_text="1").wait_for()
    finally:
        other.close()
    assert page.evaluate("window.__sameDocument") is True and board.evaluate("window.__sameDocument") is True


def test_a_board_of_many_teams_follows_status_changes_with_one_subscription(page, web):
    # the board follows its listing's status changes with one subscription, not one per team: with
    # 25 teams a page would have held 28, over the token's 20, and followed nothing
    made = []
    for i in range(25):
        team = web.team()
        made.append((make_agent(web.db, team=team, codename=f"mt{i}-{team}"), make_task(web.db, team=team, title=f"many {i}")))
    sign_in(page, web.token("reader"))
    page.goto("/?sort=new")
    wait_live(page)
    page.evaluate("window.__sameDocument = true")
    # the team named last: the one a per-team list of subscriptions (in name order) held last
    worker, task = max(made, key=lambda pair: pair[1].team)
    assert lifecycle.claim(web.db, worker.id).id == task.id
    page.locator(f"#task-{task.id.hex} .status", has_text="claimed").wait_for()
    assert page.evaluate("document.body.dataset.liveError") is None
    assert page.evaluate("window.__sameDocument") is True


def test_a_page_over_the_tokens_subscription_limit_says_it_is_not_live(page, web):
    # four subscriptions a board page: the token's 20 (api_max_subscriptions) hold five pages; the
    # sixth is refused and says so instead of showing "live" and never updating
    sign_in(page, web.token("reader"))
    pages = [page]
    for _ in range(5):
        pages.append(page.context.new_page())
    for pg in pages[:5]:
        pg.goto("/")
        wait_live(pg)
    pages[5].goto("/")
    pages[5].locator("body[data-live-error]").wait_for(state="attached")
    assert "20 subscriptions" in pages[5].locator("#live-state").inner_text()
    assert pages[5].evaluate("document.body.dataset.liveReady") == ""


def test_cancel_a_tree_from_the_console(page, web):
    team = web.team()
    worker = make_agent(web.db, team=team, codename=f"cw-{team}")
    root = make_task(web.db, team=team, title="the root")
    claimed = lifecycle.claim(web.db, worker.id)
    assert claimed is not None and claimed.id == root.id
    _, kids, _ = delegation.delegate(web.db, root.id, worker.id, claimed.attempt,
                                     [{"title": "child a"}, {"title": "child b"}])
    sign_in(page, web.token("operator"))
    page.goto("/console")
    page.fill("#cancel-task", root.id.hex[-8:])
    page.click("form[action='/console/cancel'] button[type=submit]")
    page.locator("#js-note").filter(has_text="cancelled 3 tasks").wait_for()
    assert {lifecycle.get(web.db, k).status.value for k in [root.id, *kids]} == {"cancelled"}


def _claims_after(web, team: str, after: int) -> list[dict]:
    return web.db.fetch_sql("SELECT e.id FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id"
                            " WHERE e.kind = 'claimed' AND t.team = %(team)s AND e.id > %(after)s",
                            {"team": team, "after": after})


def test_an_operator_pauses_and_resumes_a_team_and_retries_a_failed_task_from_the_console(page, web, tmp_path):
    team, elsewhere = web.team(), web.team()
    sign_in(page, web.token("operator"))
    pools = Pools(web.env, tmp_path)
    try:
        pools.start(team=team, agents=1, name=f"{team}-pool")
        for i in range(40):
            make_task(web.db, team=team, title=f"steady {i}", category="sleep", payload={"seconds": 0.1})
        wait_for(lambda: _claims_after(web, team, 0), 120, "the pool claiming")
        page.goto("/console")
        page.select_option("#pause-kind", "team")
        page.fill("#pause-scope", team)
        page.fill("#pause-reason", "browser test")
        page.click("form[action='/console/pause'] button[type=submit]")
        page.locator("#js-note").filter(has_text="paused").wait_for()
        page.locator(f"#live-gates #gate-team-{team}").filter(has_text="browser test").wait_for()  # shown held
        assert gates.drain(web.db, "team", team, timeout=60) == 0  # what was in flight finished
        mark = web.db.fetch_sql("SELECT max(id) AS id FROM phoenix.task_events")[0]["id"]
        beat = web.db.fetch_sql("SELECT max(last_heartbeat) AS at FROM phoenix.agents WHERE team = %(t)s", {"t": team})[0]["at"]
        # two heartbeats later the agent has looked for work again (it polls twice a second while idle)
        wait_for(lambda: web.db.fetch_sql("SELECT count(*) AS n FROM phoenix.agents WHERE team = %(t)s AND last_heartbeat"
                                          " > %(at)s + interval '1.5 s'", {"t": team, "at": beat})[0]["n"] > 0,
                 60, "the agent's next heartbeats")
        assert _claims_after(web, team, mark) == []  # paused: no claim at all
        open_left = web.db.fetch_sql("SELECT count(*) AS n FROM phoenix.tasks WHERE team = %(t)s AND status = 'open'",
                                     {"t": team})[0]["n"]
        assert open_left > 0
        page.click(f"#gate-team-{team} button[type=submit]")  # the held gate's own resume button
        page.locator("#js-note").filter(has_text="resumed").wait_for()
        wait_for(lambda: _claims_after(web, team, mark), 120, "claims after the resume")
        page.locator(f"#live-gates #gate-team-{team}").wait_for(state="detached")
    finally:
        pools.stop()

    worker = make_agent(web.db, team=elsewhere)
    failed = make_task(web.db, team=elsewhere, title="failed once", max_attempts=1)
    claimed = lifecycle.claim(web.db, worker.id)
    lifecycle.fail(web.db, failed.id, worker.id, claimed.attempt, "a flaky disk")
    page.fill("#retry-task", failed.id.hex[-8:])
    page.click("form[action='/console/retry'] button[type=submit]")
    page.locator("#js-note").filter(has_text="open again").wait_for()
    assert lifecycle.get(web.db, failed.id).status.value == "open"
    page.goto(f"/t/{failed.id.hex}")
    page.locator("#live-summary .status", has_text="open").wait_for()


def test_a_hostile_title_and_comment_stay_inert(page, web):
    team = web.team()
    author = make_agent(web.db, team=team, codename=f"hx-{team}")
    t = make_task(web.db, team=team, title=HOSTILE)
    comments.add(web.db, t.id, author.id, HOSTILE)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, web.token("reader"))
    for path in (f"/t/{t.id.hex}", f"/?team={team}"):
        page.goto(path)
        assert page.evaluate("window.__pwned") is None, path
    page.goto(f"/t/{t.id.hex}")
    assert page.locator("h1").inner_text() == HOSTILE  # shown as text
    assert page.locator("#live-comments .prose").inner_text() == HOSTILE
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    assert dialogs == []


def test_a_phone_screen_has_no_horizontal_scroll(browser, web):
    team = web.team()
    agent = make_agent(web.db, team=team, codename=f"phone-{team}")
    t = make_task(web.db, team=team, title="a rather long title " * 6, payload={"wide": "x" * 300})
    comments.add(web.db, t.id, agent.id, "a comment with a long word " + "y" * 120)
    context = browser.new_context(base_url=web.base, viewport={"width": 360, "height": 740}, color_scheme="dark")
    try:
        pg = context.new_page()
        sign_in(pg, web.token("operator"))
        for path in ("/", f"/?team={team}", f"/t/{t.id.hex}", "/agents", f"/a/{agent.codename}", "/federation",
                     "/console"):
            pg.goto(path)
            width = pg.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 360, (path, width)
    finally:
        context.close()


def test_the_keyboard_reaches_the_sort_links(page, web):
    sign_in(page, web.token("reader"))
    page.goto("/")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.closest('nav.sorts') ? "
                                     "document.activeElement.textContent : null"))
        if reached[-1] == "hot":
            break
    assert "hot" in reached
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the next sort link, followed from the keyboard
    page.wait_for_url("**sort=active**")


def test_a_member_reviews_a_task_that_waits_for_a_person_and_sees_it_complete(page, web):
    from phoenix_board.api import tokens
    from phoenix_board.board import members

    team = web.team()
    worker = make_agent(web.db, team=team, codename=f"mw-{team}")
    task = make_task(web.db, team=team, title="a person decides", review_quorum=1, needs_person=True)
    claimed = lifecycle.claim(web.db, worker.id)
    lifecycle.result(web.db, claimed.id, worker.id, claimed.attempt, {"draft": "v1"}, 0.8)
    member, _ = members.add(web.db, f"mp-{team}", team)
    sign_in(page, tokens.create(web.db, "member", member=member.codename).token)
    page.goto(f"/t/{task.id.hex}")
    wait_live(page)
    page.check("input[name=verdict][value=approve]")
    page.fill("#review-reason", "looks right")
    page.click("form[aria-label=Review] button[type=submit]")
    page.locator("#live-summary .status", has_text="complete").wait_for()
    assert lifecycle.get(web.db, task.id).status.value == "complete"
    page.locator("#live-votes").filter(has_text=member.codename).wait_for()  # its verdict, with its weight
