"""The relay: nothing from rolled-back transactions, every committed event once however commits
interleave, no duplicate after a relay dies between XADD and marking, catch-up after Redis loss."""

from __future__ import annotations

import random
import threading

import psycopg
import pytest
import redis
from psycopg.rows import dict_row

from phoenix_board.board import outbox
from phoenix_board.workers import consumer, stream
from tests.conftest import Valkey
from tests.conftest import wipe
from tests.workers.stream.conftest import submit


def test_a_rolled_back_transaction_publishes_nothing(url, sql, client, relay):
    with psycopg.connect(url, row_factory=dict_row) as conn:
        with conn.transaction():
            kept = submit(conn, "kept")
        with conn.transaction(force_rollback=True):
            dropped = submit(conn, "rolled back")
    relay.drain()
    published = client.xrange("task.created")
    assert [f["task_id"] for _id, f in published] == [kept]
    assert dropped not in {f["task_id"] for _id, f in published}
    assert sql.execute("SELECT count(*) AS n FROM phoenix.outbox WHERE published_at IS NULL").fetchone()["n"] == 0


def test_eight_writers_with_random_commit_delays_every_committed_event_once(url, sql, client, relay):
    rng = random.Random(8)
    plans = [[(rng.uniform(0, 0.05), rng.random() < 0.25) for _ in range(15)] for _ in range(8)]
    committed: list[str] = []
    rolled_back: list[str] = []
    lock = threading.Lock()
    writers_done = threading.Event()

    def writer(plan):
        with psycopg.connect(url, row_factory=dict_row) as conn:
            for delay, rollback in plan:
                # the id is taken now, the commit comes after the delay: commits leave id order
                with conn.transaction(force_rollback=rollback):
                    task = submit(conn)
                    threading.Event().wait(delay)
                with lock:
                    (rolled_back if rollback else committed).append(task)

    threads = [threading.Thread(target=writer, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    # the relay runs while transactions are open and committing out of order
    while not writers_done.is_set():
        relay.run_once()
        if not any(t.is_alive() for t in threads):
            writers_done.set()
    for t in threads:
        t.join()
    relay.drain()

    published = client.xrange("task.created")
    tasks = [f["task_id"] for _id, f in published]
    assert len(tasks) == len(set(tasks)), "an event was published twice"
    assert set(tasks) == set(committed), "a committed event is missing or one was invented"
    assert not set(tasks) & set(rolled_back)
    # the stream's own order is the relay's; per task, the events carry the task's sequence number
    assert all(f["seq"] == "1" for _id, f in published)
    assert rolled_back and committed  # the seeded plan has both


def test_a_relay_killed_between_publish_and_mark_makes_no_duplicate(url, sql, db, client):
    for _ in range(5):
        with psycopg.connect(url, row_factory=dict_row) as conn:
            submit(conn)
    group = consumer.Consumer(client, "task.created", "g", "c1", visibility_timeout_ms=0)
    seen: list[str] = []

    first = stream.Relay(url, client)
    assert first.acquire()
    first.assign()
    held, already = first.publish(outbox.pending(first.conn))
    assert len(held) == 5 and already == 0
    first.close()  # dies here: Redis has the entries, PostgreSQL does not know
    assert outbox.lag(db)[0] == 5

    group.poll(lambda e: seen.append(e.event_id))
    with stream.Relay(url, client) as second:
        assert second.acquire()
        result = second.drain()
    assert result.already == 5 and result.published == 0
    group.poll(lambda e: seen.append(e.event_id))
    assert len(seen) == 5 and len(set(seen)) == 5
    assert client.xlen("task.created") == 5
    assert outbox.lag(db)[0] == 0


def test_a_second_relay_waits_while_one_holds_the_lock(url, client, relay):
    other = stream.Relay(url, client)
    try:
        assert not other.acquire()
        relay.close()
        assert other.acquire()
    finally:
        other.close()


def _restart_empty(valkey: Valkey) -> redis.Redis:
    wipe(valkey)
    valkey.start()
    return redis.Redis.from_url(valkey.url, decode_responses=True)


def test_redis_restarted_empty_the_stream_catches_up_from_postgresql(url, client, valkey):
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        before = [submit(conn) for _ in range(3)]
    with stream.Relay(url, client) as r:
        assert r.acquire()
        r.drain()
    assert client.xlen("task.created") == 3

    fresh = _restart_empty(valkey)
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        after = [submit(conn) for _ in range(2)]
    with stream.Relay(url, fresh) as r:
        assert r.acquire()
        result = r.drain()
    tasks = [f["task_id"] for _id, f in fresh.xrange("task.created")]
    assert result.republished == 3
    assert tasks == before + after


def test_redis_restarted_with_its_data_publishes_only_what_is_new(url, client, valkey):
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        before = [submit(conn) for _ in range(3)]
    with stream.Relay(url, client) as r:
        assert r.acquire()
        r.drain()
        valkey.stop()
        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
            after = [submit(conn) for _ in range(2)]  # while Redis is down
        try:
            r.run_once()
            raise AssertionError("the relay should report Redis down")
        except Exception as exc:  # noqa: BLE001
            assert "Redis" in str(exc)
        valkey.start()
        fresh = redis.Redis.from_url(valkey.url, decode_responses=True)
        r.redis = fresh
        result = r.drain()
    assert result.republished == 0 and result.published == 2
    assert [f["task_id"] for _id, f in fresh.xrange("task.created")] == before + after


def test_an_open_transaction_holds_back_only_its_own_event(url, client, relay):
    with psycopg.connect(url, row_factory=dict_row) as slow, psycopg.connect(url, row_factory=dict_row) as fast:
        with slow.transaction():
            early = submit(slow)  # takes the lower outbox id, commits last
            with fast.transaction():
                late = submit(fast)
            relay.drain()
            assert [f["task_id"] for _i, f in client.xrange("task.created")] == [late]
        relay.drain()
    assert [f["task_id"] for _i, f in client.xrange("task.created")] == [late, early]


def test_the_exporter_reports_the_relays_lag(db, relay):
    from datetime import timedelta

    from phoenix_board.board import lifecycle
    from phoenix_board.metrics.collectors import BoardCollector
    from tests.conftest import make_task

    task = make_task(db)
    families = {m.name: m for m in BoardCollector(db).collect()}
    assert families["phoenix_events_unpublished"].samples[0].value == 1
    submitted = lifecycle.events(db, task.id)[0]["at"]
    assert outbox.lag(db, now=submitted + timedelta(seconds=90)) == (1, 90.0)
    relay.drain()
    families = {m.name: m for m in BoardCollector(db).collect()}
    assert families["phoenix_events_unpublished"].samples[0].value == 0
    assert families["phoenix_events_relay_lag_seconds"].samples[0].value == 0


@pytest.mark.slow
def test_relay_processes_killed_mid_stream_show_a_consumer_no_duplicate(url, valkey, client, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import wait_for

    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_DATA_DIR": str(tmp_path / "data")}
    group = consumer.Consumer(client, "task.created", "g", "c")
    seen: list[str] = []
    committed: list[str] = []
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        for round_ in range(3):
            committed += [submit(conn) for _ in range(60)]
            relay = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "events", "relay",
                                      "--interval", "0.05", "--batch", "4"], env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # killed as soon as it has published something of this round, wherever it is
                wait_for(lambda: client.xlen("task.created") > len(committed) - 60, what=f"round {round_}")
            finally:
                os.killpg(relay.pid, signal.SIGKILL)
                relay.wait(timeout=30)
            group.poll(lambda e: seen.append(e.event_id))
    with stream.Relay(url, client) as last:
        wait_for(last.acquire, what="the killed relay's lock to go with its session")
        last.drain()
    while group.poll(lambda e: seen.append(e.event_id)):
        pass
    assert len(seen) == len(set(seen)) == len(committed)
    assert sorted(f["task_id"] for _i, f in client.xrange("task.created")) == sorted(committed)


def test_an_id_refused_but_missing_from_redis_is_sent_again_under_a_new_id(url, client, relay):
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        first, second = submit(conn), submit(conn)
    relay.assign()
    events = outbox.pending(relay.conn)
    # the second entry reached Redis, the first did not (a pipeline that failed half-way)
    relay.publish(events[1:])
    result = relay.drain()
    assert result.already == 1 and result.published == 1  # the second was there; the first goes anew
    published = client.xrange("task.created")
    assert [f["task_id"] for _i, f in published] == [second, first]
    assert published[1][0] != events[0].entry_id  # a new id, above the second's


def test_a_running_relay_catches_up_after_redis_comes_back(url, valkey, client, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import wait_for

    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_DATA_DIR": str(tmp_path / "data")}
    relay = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "events", "relay", "--interval", "0.1"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
            before = [submit(conn) for _ in range(3)]
            wait_for(lambda: client.xlen("task.created") == 3, what="the first events")
            wipe(valkey)  # Redis gone, and back empty: the relay must rebuild the stream
            during = [submit(conn) for _ in range(3)]
            valkey.start()
            fresh = redis.Redis.from_url(valkey.url, decode_responses=True)
            wait_for(lambda: fresh.xlen("task.created") == 6, what="the stream rebuilt from PostgreSQL")
        assert relay.poll() is None, "the relay must survive Redis going away"
        assert [f["task_id"] for _i, f in fresh.xrange("task.created")] == before + during
    finally:
        relay.terminate()
        relay.wait(timeout=30)


def test_the_mark_changes_each_row_in_place_and_what_is_unpublished_is_what_lies_above_the_head(url, sql, db, client,
                                                                                                relay):
    """The mark is a HOT update (migration 0034: published_at is in no index), and with no index of
    unpublished rows the relay finds them above each topic's published head: after a partial pass,
    a refused id Redis lacks, and a tail Redis lost, what it publishes next is exactly what is not
    in Redis yet."""
    relay.drain()
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for i in range(4):
            submit(conn, f"in place {i}")
        conn.commit()
        assert outbox.assign(conn) == 4
        events = outbox.pending(conn)
        assert [e.topic for e in events] == ["task.created"] * 4
        assert outbox.mark_published(conn, events[:2]) == 2
        stats = conn.execute("SELECT pg_stat_get_xact_tuples_updated('phoenix.outbox'::regclass) AS updated, "
                             "pg_stat_get_xact_tuples_hot_updated('phoenix.outbox'::regclass) AS hot").fetchone()
        assert (stats["updated"], stats["hot"]) == (6, 2)  # four assignments, two marks in place
        conn.commit()
        # the two not marked are what is pending, and what the lag counts
        assert [e.id for e in outbox.pending(conn)] == [e.id for e in events[2:]]
        assert outbox.lag(db)[0] == 2
        # a refused id that Redis lacks loses its id and comes back above the rest
        assert outbox.reassign(conn, events[2:3]) == 1
        conn.commit()
        assert outbox.assign(conn) == 1
        again = outbox.pending(conn)
        assert [e.id for e in again] == [events[3].id, events[2].id]
        assert (again[1].stream_ms, again[1].stream_seq) > (again[0].stream_ms, again[0].stream_seq)
        conn.commit()
    relay.drain()
    assert sql.execute("SELECT count(*) AS n FROM phoenix.outbox WHERE published_at IS NULL").fetchone()["n"] == 0
    # all four reach Redis once: the two marked without being sent are the tail it lacks
    payloads = [f["payload"] for _id, f in client.xrange("task.created")]
    assert sum('"in place' in p for p in payloads) == 4
