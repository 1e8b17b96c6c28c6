"""What each topic carries, retention by time, and the `events` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import psycopg
import pytest
import redis
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from phoenix_board.board import agents, comments, consciousness, lifecycle, outbox, votes
from phoenix_board.workers import stream
from tests.conftest import make_agent, make_task
from tests.workers.stream.conftest import submit


def test_task_events_carry_their_id_and_the_tasks_sequence_number(db, client, relay):
    agent = make_agent(db)
    task = make_task(db)
    claimed = lifecycle.claim(db, agent.id)
    lifecycle.start(db, claimed.id, agent.id, claimed.attempt)
    lifecycle.result(db, claimed.id, agent.id, claimed.attempt, output={"ok": True}, quality=0.9)
    relay.drain()
    history = {e["kind"]: e for e in lifecycle.events(db, task.id)}
    created = client.xrange("task.created")
    completed = client.xrange("task.completed")
    assert [f["task_id"] for _i, f in created] == [str(task.id)]
    assert [f["task_id"] for _i, f in completed] == [str(task.id)]
    assert created[0][1]["seq"] == str(history["submitted"]["seq"])
    assert completed[0][1]["seq"] == str(history["completed"]["seq"])
    payload = json.loads(completed[0][1]["payload"])
    assert payload["task_event_id"] == history["completed"]["id"] and payload["agent_id"] == str(agent.id)
    assert created[0][1]["event_id"] != completed[0][1]["event_id"]


def test_snapshots_and_sync_interactions_are_published(db, sql, client, relay):
    a, b = make_agent(db), make_agent(db)
    rows = consciousness.snapshot(db, now=datetime.now(timezone.utc))
    sql.execute("INSERT INTO phoenix.agent_interactions (agent_from, agent_to, interaction_type, hormone_exchange)"
                " VALUES (%s, %s, 'sync', %s)", (a.id, b.id, Jsonb({"oxytocin": 0.1})))
    sql.execute("INSERT INTO phoenix.agent_interactions (agent_from, agent_to, interaction_type)"
                " VALUES (%s, %s, 'vote')", (a.id, b.id))
    relay.drain()
    updates = client.xrange("consciousness.update")
    assert rows > 0 and len(updates) == rows
    assert {json.loads(f["payload"])["team"] for _i, f in updates} >= {"global"}
    cascades = client.xrange("hormone.cascade")
    assert len(cascades) == 1
    assert json.loads(cascades[0][1]["payload"])["hormones"] == {"oxytocin": 0.1}


def test_retention_is_by_time_per_topic(url, db, client):
    make_task(db)
    consciousness.snapshot(db, now=datetime.now(timezone.utc))
    now = stream.now_ms()
    with stream.Relay(url, client, clock=lambda: now) as r:
        assert r.acquire()
        r.drain()
    assert client.xlen("task.created") == 1 and client.xlen("consciousness.update") > 0
    # two hours on: consciousness.update (1 h) is gone, task.created (7 d) stays
    later = now + 2 * 3_600_000
    with stream.Relay(url, client, clock=lambda: later) as r:
        assert r.acquire()
        result = r.run_once()
    assert client.xlen("consciousness.update") == 0 and client.xlen("task.created") == 1
    assert result.pruned > 0  # and the outbox keeps no published row past its retention either
    assert outbox.retention_ms("task.completed") == 30 * 86_400_000
    assert outbox.retention_ms("agent.heartbeat") == 86_400_000


def test_heartbeats_go_straight_to_their_stream(db, client):
    agent = make_agent(db)
    stream.publish_heartbeat(client, agent.id, agent.team)
    (entry_id, fields), = client.xrange("agent.heartbeat")
    assert fields["agent_id"] == str(agent.id) and fields["event_id"]


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "events", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_events_relay_and_tail_commands(url, valkey, tmp_path, client):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_DATA_DIR": str(tmp_path / "data")}
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        tasks = [submit(conn) for _ in range(3)]
    done = _cli(env, "relay", "--once")
    assert done.returncode == 0, done.stderr
    assert "published 3" in done.stdout
    shown = _cli(env, "tail", "--topic", "task.created")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(" task=")[1].split()[0] for line in lines] == tasks
    assert all(" seq=1 " in line and " event=" in line for line in lines)
    bad = _cli(env, "tail", "--topic", "task.deleted")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: unknown topic 'task.deleted': use one of agent.heartbeat, task.created, task.completed, "
        "task.updated, task.voted, task.commented, consciousness.update, hormone.cascade"]


def test_tail_follow_prints_new_events(url, valkey, tmp_path, client, relay):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "events", "tail", "--follow", "-t",
                             "task.created"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        # a first line proves the follower is reading before the event is published
        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
            first = submit(conn)
        relay.drain()
        assert first in proc.stdout.readline()
        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
            second = submit(conn)
        relay.drain()
        assert second in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_agents_in_a_real_pool_publish_their_heartbeats(pools, valkey, db):
    from tests.conftest import wait_for

    pools.start(team="iota", agents=1, name="hb")
    reader = redis.Redis.from_url(valkey.url, decode_responses=True)
    entries = wait_for(lambda: reader.xrange("agent.heartbeat"), what="a heartbeat on the stream")
    fields = entries[0][1]
    assert fields["team"] == "iota"
    assert fields["agent_id"] in {str(a.id) for a in agents.list_agents(db, team="iota")}


def test_votes_and_comments_are_one_entry_each_with_the_counts_after_them(db, sql, client, relay):
    author, voter, other = make_agent(db), make_agent(db), make_agent(db)
    task = make_task(db, created_by=author.id)
    votes.vote(db, task.id, voter.id, 1)
    votes.vote(db, task.id, other.id, -1)
    votes.vote(db, task.id, other.id, -1)  # the same vote again changes nothing: no entry
    first = comments.add(db, task.id, voter.id, "first")
    reply = comments.add(db, task.id, other.id, "a reply", parent=first["id"])
    votes.comment_vote(db, first["id"], other.id, 1)
    relay.drain()
    voted = [json.loads(f["payload"]) for _i, f in client.xrange("task.voted")]
    commented = [json.loads(f["payload"]) for _i, f in client.xrange("task.commented")]
    assert [(v["vote"], v["upvotes"], v["downvotes"], v["score"]) for v in voted] == [(1, 1, 0, 1), (-1, 1, 1, 0), (1, 1, 0, 1)]
    assert [v.get("comment_id") for v in voted] == [None, None, str(first["id"])]
    assert {f["task_id"] for _i, f in client.xrange("task.voted")} == {str(task.id)}
    assert [(c["comment_id"], c["parent_id"], c["comment_count"]) for c in commented] == [
        (str(first["id"]), None, 1), (str(reply["id"]), str(first["id"]), 2)]
    assert all(c["team"] == task.team and "content" not in c for c in commented)  # ids and counts, never the text


def test_a_rolled_back_vote_or_comment_writes_no_entry(url, db, sql, client, relay):
    voter = make_agent(db)
    task = make_task(db)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT phoenix.task_vote(%s, %s, 1, NULL)", (task.id, voter.id))
            conn.execute("SELECT phoenix.comment_add(%s, %s, NULL, 'gone')", (task.id, voter.id))
            assert conn.execute("SELECT count(*) AS n FROM phoenix.outbox WHERE topic IN ('task.voted', 'task.commented')"
                                ).fetchone()["n"] == 2  # written in the vote's and comment's own transaction
    relay.drain()
    assert client.xlen("task.voted") == 0 and client.xlen("task.commented") == 0
