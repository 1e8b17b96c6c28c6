"""The `comment` command's --idempotency-key (docs/guide.md): a retried command posts once,
a key reused for other content is refused in one line."""

from __future__ import annotations

import json

from phoenix_board.board import agents, lifecycle


def test_the_comment_command_takes_a_key(run, db):
    agents.register(db, {"codename": "author-1", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "discuss", "team": "iota"})
    first = run("comment", str(task.id), "I can take it", "--agent", "author-1", "--idempotency-key", "cli-1", "-q")
    again = run("comment", str(task.id), "I can take it", "--agent", "author-1", "--idempotency-key", "cli-1", "-q")
    assert first.stdout == again.stdout
    refused = run("comment", str(task.id), "changed my mind", "--agent", "author-1", "--idempotency-key", "cli-1",
                  ok=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: idempotency key cli-1 was already used for a different comment; use a new key for new content"]
    shown = json.loads(run("show", str(task.id), "--json").stdout)
    assert [c["content"] for c in shown["comments"]] == ["I can take it"]
