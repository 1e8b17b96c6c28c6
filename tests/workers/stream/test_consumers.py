"""Consumer groups on the streams: each entry to one consumer, entries of a dead consumer
reclaimed, a message that keeps failing moved to <topic>.dlq."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from phoenix_board.workers import consumer
from tests.workers.stream.conftest import submit


def _publish(url, relay, n: int) -> list[str]:
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        tasks = [submit(conn) for _ in range(n)]
    relay.drain()
    return tasks


def test_a_group_shares_entries_and_acknowledges_them(url, client, relay):
    tasks = _publish(url, relay, 6)
    a = consumer.Consumer(client, "task.created", "workers", "a", count=3)
    b = consumer.Consumer(client, "task.created", "workers", "b", count=3)
    seen_a, seen_b = [], []
    assert a.poll(lambda e: seen_a.append(e.task_id)) == 3
    assert b.poll(lambda e: seen_b.append(e.task_id)) == 3
    assert sorted(seen_a + seen_b) == sorted(tasks) and not set(seen_a) & set(seen_b)
    assert client.xpending("task.created", "workers")["pending"] == 0
    # another group reads the same entries independently
    other = []
    consumer.Consumer(client, "task.created", "audit", "x").poll(lambda e: other.append(e.task_id))
    assert other == tasks


def test_entries_of_a_dead_consumer_are_reclaimed(url, client, relay):
    tasks = _publish(url, relay, 4)
    dead = consumer.Consumer(client, "task.created", "g", "dead", visibility_timeout_ms=0)

    def dies(_event):
        raise RuntimeError("process killed mid-work")

    assert dead.poll(dies) == 0
    assert client.xpending("task.created", "g")["pending"] == 4
    heir = consumer.Consumer(client, "task.created", "g", "heir", visibility_timeout_ms=0)
    got = []
    assert heir.poll(lambda e: got.append((e.task_id, e.seq, e.event_id))) == 4
    assert [t for t, _s, _e in got] == tasks and all(s == 1 and e for _t, s, e in got)
    assert client.xpending("task.created", "g")["pending"] == 0


def test_an_entry_not_idle_long_enough_stays_with_its_consumer(url, client, relay):
    _publish(url, relay, 1)
    slow = consumer.Consumer(client, "task.created", "g", "slow", visibility_timeout_ms=3_600_000)
    slow.poll(lambda e: (_ for _ in ()).throw(RuntimeError("still working")))
    other = consumer.Consumer(client, "task.created", "g", "other", visibility_timeout_ms=3_600_000)
    assert other.poll(lambda e: None) == 0
    assert client.xpending("task.created", "g")["pending"] == 1


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_stream(url, client, relay):
    good, poison = _publish(url, relay, 2)
    c = consumer.Consumer(client, "task.created", "g", "c", visibility_timeout_ms=0, max_deliveries=3)
    handled, attempts = [], []

    def handler(event):
        if event.task_id == poison:
            attempts.append(event.entry_id)
            raise ValueError("cannot process this one")
        handled.append(event.task_id)

    for _ in range(6):
        c.poll(handler)
    assert handled == [good]
    assert len(attempts) == 3
    dead = client.xrange("task.created.dlq")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields["task_id"] == poison and fields["origin_id"] == attempts[0] and fields["deliveries"] == "4"
    assert client.xpending("task.created", "g")["pending"] == 0


def test_an_unknown_topic_is_refused(client):
    import pytest

    from phoenix_board.board import errors

    with pytest.raises(errors.InvalidInput, match="unknown topic"):
        consumer.Consumer(client, "task.deleted", "g", "c")
