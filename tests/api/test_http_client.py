"""The queue client's HTTP mode (workers/client.py HttpClient) against a real server: the same
calls as over Celery, with an API token; submit_and_wait returns the ended task; bad input is
refused before anything is sent; errors come back as the board's typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from phoenix_board.api import client as api_client
from phoenix_board.board import errors, lifecycle
from phoenix_board.workers.client import HttpClient
from tests.api.conftest import Api
from tests.api.streams import relay_process
from tests.conftest import make_agent



@pytest.fixture(scope="module", autouse=True)
def relay(api: Api) -> Iterator[None]:
    """The relay feeds createTask's wait, as `up` runs one beside the server."""
    with relay_process(api.env, api.log.with_name("relay.log")):
        yield


def test_submit_status_vote_comment_cancel_over_http(api: Api):
    team = api.team()
    voter = make_agent(api.db, team=team)
    with HttpClient(api.base, api.token("operator")) as board:
        same = {"title": "Over HTTP", "team": team, "priority": 7}
        task_id = board.submit(same, idempotency_key="http-1")
        assert board.submit(same, idempotency_key="http-1") == task_id  # sent again: still one task
        with pytest.raises(errors.Conflict):  # the key with other content is refused
            board.submit({"title": "Other", "team": team}, idempotency_key="http-1")
        found = board.status(task_id)
        assert (found["title"], found["status"], found["idempotency_key"]) == ("Over HTTP", "open", "http-1")
        board.vote(task_id, voter.codename, 1)
        comment = board.comment(task_id, voter.codename, "looks useful")
        assert api.db.fetch_sql("SELECT upvotes FROM phoenix.tasks WHERE id = %(id)s", {"id": task_id})[0]["upvotes"] == 1
        assert comment
        assert board.cancel(task_id, reason="not needed") >= 1
        assert board.status(task_id)["status"] != "open"
        assert board.status("00000000-0000-0000-0000-000000000000") is None
        assert board.status("not an id") is None
    with HttpClient(api.base, api.token("agent", voter.codename)) as as_agent:
        other = as_agent.submit({"title": "By the agent", "team": team})
        with pytest.raises(errors.Forbidden):  # its own task: no self-votes
            as_agent.vote(other, None, 1)


def test_submit_and_wait_returns_the_ended_task(api: Api):
    team = api.team()
    worker = make_agent(api.db, team=team)

    def work() -> None:
        for _ in range(600):
            claimed = lifecycle.claim(api.db, worker.id)
            if claimed is not None:
                lifecycle.result(api.db, claimed.id, worker.id, claimed.attempt, {"sum": 3})
                return
            threading.Event().wait(0.1)

    helper = threading.Thread(target=work)
    helper.start()
    try:
        with HttpClient(api.base, api.token("operator")) as board:
            ended = board.submit_and_wait({"title": "Add 1 and 2", "team": team}, 120)
    finally:
        helper.join(timeout=120)
    assert (ended["status"], ended["output"]) == ("complete", {"sum": 3})


def test_bad_input_and_bad_tokens_are_typed_errors(api: Api, api_sql):
    before = api_sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"]
    with HttpClient(api.base, api.token("operator")) as board:
        with pytest.raises(errors.InvalidInput):
            board.submit({"title": "", "team": "alpha_delta"})  # refused before sending
        with pytest.raises(errors.InvalidInput):
            board.submit(["not", "a", "task"])
        with pytest.raises(errors.NotFound):
            board.submit({"title": "no such team", "team": "no_such_team"})
    with HttpClient(api.base, api.token("reader")) as reader, pytest.raises(errors.Forbidden):
        reader.submit({"title": "a reader writes nothing", "team": "alpha_delta"})
    with HttpClient(api.base, "pbt_" + "y" * 43) as stranger, pytest.raises(api_client.Unauthenticated):
        stranger.status("00000000-0000-0000-0000-000000000000")
    assert api_sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == before
