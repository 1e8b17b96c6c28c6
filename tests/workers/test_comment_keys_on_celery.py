"""The queue's comment message carries an idempotency key (docs/guide.md): a message
delivered twice, or re-sent with the same key after a lost reply, posts the comment once, on a
real worker and broker."""

from __future__ import annotations

import pytest

from phoenix_board.board import agents, comments, lifecycle
from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_a_comment_message_sent_twice_posts_once(pools, client, db):
    pools.start("iota", agents=1)  # one process: the messages are applied in the order they were sent
    wait_for(lambda: agents.list_agents(db, team="iota"), what="the agent")
    author, _ = agents.register(db, {"codename": "author-1", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "discuss", "team": "iota"})
    key = client.comment(task.id, "author-1", "I can take it")
    assert client.comment(task.id, "author-1", "I can take it", idempotency_key=key) == key  # the redelivery
    client.comment(task.id, "author-1", "sent after both")  # a key of its own: a fresh comment
    wait_for(lambda: any(c["content"] == "sent after both" for c in comments.thread(db, task.id)),
             what="the last comment")
    assert [c["content"] for c in comments.thread(db, task.id)] == ["I can take it", "sent after both"]
    assert lifecycle.get(db, task.id).comment_count == 2
