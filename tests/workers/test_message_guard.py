"""Raw messages through a real broker to a real worker: only the board's own tasks run from its
queues, every refusal is one log line that never quotes the body, a body over the size limit never
reaches a pool process, and each refusal is counted by reason in the agents' multiprocess metrics
(``phoenix_messages_rejected_total{reason}``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry, multiprocess
import pytest

from phoenix_board.board import errors
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import delivery
from tests.conftest import make_agent, make_task, wait_for

MARKER = "body-text-that-must-never-be-logged"


def raw(client, redis, *, content_type: str, body: bytes, headers: dict | None = None) -> bytes:
    """A message as the broker holds it, made from a real one sent to a queue nobody reads."""
    aside = f"{client.settings.queue_prefix}.aside"
    client.app.send_task("phoenix.submit", kwargs={"body": {}}, queue=aside)
    envelope = json.loads(redis.rpop(aside))
    envelope["body"] = base64.b64encode(body).decode()
    envelope["content-type"] = content_type
    if headers is not None:
        envelope["headers"] = headers
    envelope["properties"]["delivery_info"]["routing_key"] = client.settings.board_queue()
    return json.dumps(envelope).encode()


def rejected(registry_dir: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(registry_dir))
    return {reason: registry.get_sample_value("phoenix_messages_rejected_total", {"reason": reason}) or 0.0
            for reason in worker_metrics.REJECTION_REASONS}


@pytest.mark.slow
def test_only_the_boards_tasks_run_and_every_refusal_is_one_counted_line(pools, client, db, sql, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    author = make_agent(db, team="iota", codename="guard-author")
    own = make_task(db, team="iota", created_by=author.id, category="noop", title="the author's own")
    proc = pools.start("iota", agents=1, name="guard", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"],
             what="the worker to work the task already on the board")
    before = sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"]
    pool_rss = {p.pid: p.memory_info().rss for p in psutil.Process(proc.pid).children()}

    board = client.settings.board_queue()
    submit = {"title": MARKER, "team": "iota", "idempotency_key": MARKER}
    send = client.app.send_task
    send("celery.accumulate", args=[MARKER], queue=board)                                  # a builtin
    send("celery.chord_unlock", args=[MARKER], queue=board)                                # another
    send("os.system", args=[f"echo {MARKER}"], queue=board)                                # unknown
    send("phoenix.submit", kwargs={"body": submit}, queue=board, serializer="pickle")      # pickle
    send("phoenix.submit", kwargs={"body": submit}, queue=board, countdown=60)             # a countdown
    huge = {**submit, "description": MARKER * (50 * 1024 * 1024 // len(MARKER))}          # ~50 MB
    send("phoenix.submit", kwargs={"body": huge}, queue=board)
    client.vote(own.id, "guard-author", 1)                                                 # a self-vote
    with client.app.connection_for_write() as conn:
        redis = conn.default_channel.client
        yaml_body = f"- []\n- body: {{title: {MARKER}, team: iota}}\n- {{}}\n".encode()
        redis.lpush(board, raw(client, redis, content_type="application/x-yaml", body=yaml_body))
        redis.lpush(board, raw(client, redis, content_type="application/json", body=b'{"' + MARKER.encode() + b'": 1}',
                               headers={}))                                                # not a task message
        redis.lpush(board, raw(client, redis, content_type="application/json", body=b"[[], {\xff" + MARKER.encode()))
        expected = {"unknown_task": 3, "content_type": 2, "invalid": 1, "too_large": 1, "forbidden": 1,
                    "malformed": 1, "undecodable": 1}
        wait_for(lambda: all(rejected(metrics_dir)[r] >= n for r, n in expected.items()), timeout=120,
                 what=f"the refusals counted: {expected}, so far {rejected(metrics_dir)}")
        wait_for(lambda: redis.llen(board) == 0, what="an empty queue")
        assert redis.hlen("unacked") == 0  # refused for good: none waits for redelivery

    counted = rejected(metrics_dir)
    assert {r: int(n) for r, n in counted.items() if n} == expected
    log = pools.log("guard")
    lines = [line for line in log.splitlines() if "rejected " in line]
    assert len(lines) == sum(expected.values()), lines
    assert all(len(line) <= 400 and line == errors.one_line(line) for line in lines), lines
    assert MARKER not in log and "Traceback" not in log, log[-3000:]
    assert "celery.accumulate" not in log.replace("rejected 'celery.accumulate' message", "")  # never ran
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == before
    # the 50 MB body never reached a pool process (it used to leave them at 260 MB)
    grown = {pid: psutil.Process(pid).memory_info().rss - rss for pid, rss in pool_rss.items() if psutil.pid_exists(pid)}
    print(f"pool processes' RSS growth (bytes): {grown}")
    assert grown and all(g < 20 * 1024 * 1024 for g in grown.values()), grown

    key = client.submit({"title": "after them", "team": "iota", "category": "noop"})
    wait_for(lambda: (t := client.status(key)) and t.status == "complete", what="a valid task after them")
    assert proc.poll() is None


def test_the_client_splits_a_batch_to_stay_under_the_size_limit(client):
    big = {"title": "big", "team": "iota", "payload": {"blob": "x" * 60_000}}
    keys = client.submit_many([big] * 200, batch=200)  # 12 MB in all: more than one message may hold
    assert len(keys) == 200
    with client.app.connection_for_write() as conn:
        redis = conn.default_channel.client
        bodies = [json.loads(base64.b64decode(json.loads(m)["body"]))
                  for m in redis.lrange(client.settings.board_queue(), 0, -1)]
    sizes = [len(json.dumps(b).encode()) for b in bodies]
    assert len(bodies) > 1 and all(s <= delivery.MESSAGE_MAX_BYTES for s in sizes), sizes
    assert sorted(t["idempotency_key"] for b in bodies for t in b[1]["body"]["tasks"]) == sorted(keys)
