"""Submissions sent as separate messages, written together: the consumer's batching of ``submit``.

A worker's consumer (its main process) holds the ``phoenix.submit`` messages it receives instead
of handing each to a pool process as its own task. As long as fewer than ``IN_FLIGHT_MAX`` batches
are being written, whatever is held goes at once to a free pool process as one batch
(``tasks.submit_batch``), which writes it in one transaction (``lifecycle.submit_many``: a
savepoint per submission); what arrives while those are being written waits, and goes as the next
batch when one ends (group commit). A lone message is therefore never delayed, and under load
the batches grow by themselves, up to ``BATCH_MAX``.

Each message keeps its own fate, as if it had been a task of its own (``delivery.py``):

* it is acknowledged only after the transaction holding it has committed;
* a malformed or refused one is rejected alone (without requeue), with its one-line reason in the
  log, and the others commit (the savepoint undoes it alone);
* an unreachable database holds the batch in its pool process, then requeues every message of it
  (nothing committed; the idempotency keys make a second pass harmless, as for a redelivery);
* a pool process killed under a batch, or past its hard time limit, requeues every message of it;
  a killed main process leaves them unacknowledged in the broker, which delivers them again within
  ``delivery.REDELIVERY_BOUND_SECONDS``.

Why not ``celery-batches``: it acknowledges every message of a batch when the batch returns,
whatever happened (a batch that found no database would be acknowledged and lost), cannot reject
one message alone, sets no error callback (a killed pool process leaves the batch unacknowledged
in the worker until the broker's timeout), and buffers by count and interval (a lone message
waits for the interval). Here a batch takes one of the pool's places in Celery's reserved set,
so the consumer still fetches other messages only for free processes (``worker_disable_prefetch``),
and the messages held here are added to the prefetch count (as Celery does for messages with an
ETA), so that the prefetch of one message per process does not cap a batch at the pool's size.
Wake-ups, votes and the other messages never wait behind the batches: at most ``IN_FLIGHT_MAX``
pool processes write submissions at a time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from typing import Any

from celery.utils.log import get_logger
from celery.worker import state as worker_state

from phoenix_board.board import errors
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import delivery

log = logging.getLogger(__name__)
_celery_log = get_logger(__name__)  # what Celery's ack and reject promises log their errors to

# submissions written in one transaction at most: past 100 the commit is shared so widely that a
# larger batch would only hold its messages unacknowledged longer (and a redelivery redo more)
BATCH_MAX = 100
# batches of one worker being written at once: two, so that one is being written while the
# next is handed over, and every other pool process stays free for wake-ups and other messages
IN_FLIGHT_MAX = 2
# messages held beyond the prefetch count at most: full batches in flight and one waiting
HELD_MAX = BATCH_MAX * (IN_FLIGHT_MAX + 1)

ACK, REJECT, REQUEUE = "ack", "reject", "requeue"


class _Slot:
    """A batch's place in Celery's set of reserved requests (a weak set: this is what it holds).
    Celery reads the members of that set as requests: the consumer's close drops each one's ``id``
    from its requests (a slot without one failed the consumer's stop, and with it the return of
    the held messages to the broker), ``inspect reserved`` lists each one's ``info()``, a new
    event dispatcher is handed to each one's ``eventer``."""

    __slots__ = ("__weakref__", "id", "size", "eventer")
    name = "phoenix.submit_batch"

    def __init__(self, size: int) -> None:
        self.id = f"submit-batch-{uuid.uuid4()}"
        self.size = size
        self.eventer = None

    def info(self, safe: bool = False) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "args": [], "kwargs": {"messages": self.size}, "type": self.name,
                "hostname": None, "time_start": None, "acknowledged": False, "delivery_info": {},
                "worker_pid": None}


class _Held:
    __slots__ = ("payload", "ack", "reject", "raised")

    def __init__(self, payload: Any, ack: Any, reject: Any, raised: bool) -> None:
        self.payload, self.ack, self.reject, self.raised = payload, ack, reject, raised


class SubmitBatcher:
    """One per worker consumer: ``strategy`` is what the consumer calls for each submit message."""

    def __init__(self, consumer: Any, write: Any) -> None:
        self.consumer = consumer
        self.write = write  # the pool-side function: tasks.submit_batch
        self.waiting: deque[_Held] = deque()
        self.in_flight = 0
        self.held = 0
        self.lock = threading.Lock()  # a thread pool's callbacks run in its threads

    def strategy(self, message: Any, payload: Any, ack: Any, reject: Any, callbacks: Any, **_: Any) -> None:
        try:  # here, not in the pool process: an undecodable body is the consumer's refusal (guard.py)
            decoded = message.decode() if payload is None else payload
        except Exception as exc:
            self.consumer.on_decode_error(message, exc)
            return
        with self.lock:
            raised = self.held < HELD_MAX
            self.held += 1
            if raised:
                self.consumer.qos.increment_eventually()
            self.waiting.append(_Held(decoded, ack, reject, raised))
            batches = self._take()
        for batch in batches:
            self._send(batch)

    def counts(self) -> dict[str, int]:
        """What this consumer holds: unacknowledged messages in all, those waiting for a batch, and
        the batches being written (``inspect phoenix_submissions``, workers/control.py)."""
        with self.lock:
            return {"held": self.held, "waiting": len(self.waiting), "batches_in_flight": self.in_flight}

    def _take(self) -> list[list[_Held]]:
        """The batches to send now (under the lock)."""
        out = []
        while self.waiting and self.in_flight < IN_FLIGHT_MAX:
            n = min(len(self.waiting), BATCH_MAX)
            out.append([self.waiting.popleft() for _ in range(n)])
            self.in_flight += 1
        return out

    def _send(self, batch: list[_Held]) -> None:
        slot = _Slot(len(batch))
        worker_state.reserved_requests.add(slot)
        payloads = [m.payload for m in batch]
        qos = self.consumer.qos  # the one its messages were added to (a reconnection makes another)

        def settle(outcomes: Any) -> None:
            worker_state.reserved_requests.discard(slot)
            if not isinstance(outcomes, list) or len(outcomes) != len(batch):
                # a thread pool reports an error in its process as the result (celery's apply_target)
                lost(outcomes)
                return
            self._settle(batch, outcomes, qos)

        def lost(exc_info: Any) -> None:
            worker_state.reserved_requests.discard(slot)
            why = getattr(exc_info, "exception", exc_info)
            log.warning("requeued %d submit messages: their pool process ended under them (%s)", len(batch),
                        errors.one_line(f"{type(why).__name__}: {why}")[:200])
            for _ in batch:
                worker_metrics.count_rejection("requeued")
            self._settle(batch, [(REQUEUE, "")] * len(batch), qos)

        try:
            applied = self.consumer.pool.apply_async(self.write, args=(payloads,), callback=settle, error_callback=lost,
                                                     soft_timeout=delivery.SOFT_LIMIT_SECONDS,
                                                     timeout=delivery.HARD_LIMIT_SECONDS)
        except Exception as exc:  # the pool is stopping: the messages go back to their queue
            lost(exc)
            return
        if applied is None:
            # a stopping prefork pool (billiard) takes nothing and says so only by returning None: the
            # batch would never run nor be settled, its messages unacknowledged until the broker's
            # visibility timeout (a warm shutdown's held messages, handed over as the batches in hand end)
            lost(RuntimeError("the pool is stopping"))

    def _settle(self, batch: list[_Held], outcomes: list[tuple[str, str]], qos: Any) -> None:
        lost_connection = self.consumer.connection_errors  # logged, not raised, by the promises
        for held, (kind, _why) in zip(batch, outcomes, strict=True):
            if kind == ACK:
                held.ack(_celery_log, lost_connection)
            else:
                held.reject(_celery_log, lost_connection, kind == REQUEUE)
        with self.lock:
            self.in_flight -= 1
            self.held -= len(batch)
            for held in batch:
                if held.raised:
                    qos.decrement_eventually()
            batches = self._take()
        for next_batch in batches:
            self._send(next_batch)
