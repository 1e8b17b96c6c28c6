"""How a board message is held, retried and acknowledged (docs/operations/running-agents.md).

A message that carries an effect (a submission, a vote, a comment, a cancel, a cascade, an
assessment, a review) is acknowledged only once that effect is committed, or once it is refused
for good (``Reject(requeue=False)``: bad input, a refused operation). A transient failure (the
database or the broker away, the soft time limit) never discards it:

* the pool process tries the whole task again in place, with backoff, for up to
  ``TRANSIENT_HOLD_SECONDS``; the tasks are idempotent (submissions by their key, votes by
  voter, cancels and cascades by id), so a second pass redoes nothing that committed;
* after that it raises ``Reject(requeue=True)``: the message goes back to the head of its queue.
  If the broker is away too, the reject cannot reach it; the message then stays in the broker's
  unacked set and is redelivered by the visibility timeout once the broker is back (the
  transport leaves it there, ``transport.py``).

Celery's own ``self.retry`` is not used: it publishes a copy and acknowledges the original, and
when the broker is away it rejects the original *without* requeue (``reject requeue=False``), which
lost whole batches when PostgreSQL and the broker went away together.

Holds are bounded, so the visibility timeout can be short: a message is held at most until its
hard time limit (``HARD_LIMIT_SECONDS``), and the broker restores a message unacked for
``VISIBILITY_TIMEOUT_SECONDS`` (its worker died: a SIGKILLed main, a lost host), checked every
``RESTORE_SWEEP_SECONDS`` by every live worker. A dead worker's messages are therefore delivered
again within ``REDELIVERY_BOUND_SECONDS``. Wake-ups and beat jobs are acknowledged on receipt:
they hold their process for a whole work budget, and one lost is sent again (the idle poller, the
next beat tick).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import psycopg
import redis
from celery import shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded

from phoenix_board.board import errors
from phoenix_board.metrics import worker as worker_metrics

log = logging.getLogger(__name__)

# seconds a pool process keeps trying a message whose database or broker is away, before it puts
# the message back in its queue (and takes the next one, which may find the servers back)
TRANSIENT_HOLD_SECONDS = 15.0
FIRST_DELAY_SECONDS, MAX_DELAY_SECONDS = 0.5, 4.0
# an agent's database call waits this long for a connection (workers/process_state.py): a hold is at
# most TRANSIENT_HOLD_SECONDS plus one such wait, inside the soft limit below
DB_WAIT_SECONDS = 10.0
# a board message does database calls only: 30 s is far past any legitimate run (a batch of 1,000
# submissions takes a few seconds); past it the message is requeued (soft) or its process killed
# and the message requeued (hard: task_acks_on_timeout is off, task_reject_on_worker_lost on)
SOFT_LIMIT_SECONDS = 30.0
HARD_LIMIT_SECONDS = 35.0
# above the longest hold (the hard limit) with a margin, so a live worker's message is never
# delivered twice by the timeout
VISIBILITY_TIMEOUT_SECONDS = 45
RESTORE_SWEEP_SECONDS = 5
# a sweep holds a mutex in the broker; one left by a worker killed mid-sweep blocks sweeps this long
RESTORE_MUTEX_SECONDS = 10
REDELIVERY_BOUND_SECONDS = VISIBILITY_TIMEOUT_SECONDS + RESTORE_SWEEP_SECONDS
# a message body (JSON) larger than this is refused before it is decoded (workers/guard.py); the
# client splits batches to stay under it. A single submission is at most ~80 KB (payload 64 KB).
MESSAGE_MAX_BYTES = 4 * 1024 * 1024

# failures that say nothing about the message: a server is away, or the process ran out of time
TRANSIENT: tuple[type[BaseException], ...] = (
    errors.Unavailable,
    kombu.exceptions.OperationalError,  # a publish (wake-up, assessment) that found no broker
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    psycopg.OperationalError,  # a pool timeout outside db.py's translation
)

# BoardError kinds -> the rejection reason counted in phoenix_messages_rejected_total
_REASONS: tuple[tuple[type[errors.BoardError], str], ...] = (
    (errors.InvalidInput, "invalid"),
    (errors.Forbidden, "forbidden"),
    (errors.NotFound, "not_found"),
    (errors.Conflict, "conflict"),
)


def reason_of(exc: errors.BoardError) -> str:
    return next((reason for kind, reason in _REASONS if isinstance(exc, kind)), "refused")


def refused(name: str, exc: errors.BoardError) -> str:
    """Logs a message's refusal in one line and counts why; -> the reason. (A batched submission's
    refusal stops here: the consumer rejects its message, workers/batching.py.)"""
    worker_metrics.count_rejection(reason_of(exc))
    log.warning("rejected %s message: %s", name, exc.message)
    return exc.message


def reject(name: str, exc: errors.BoardError) -> None:
    """Refuses a message for good, in one log line, and counts why."""
    raise Reject(refused(name, exc), requeue=False) from None


def _requeue(name: str, why: str) -> None:
    worker_metrics.count_rejection("requeued")
    log.warning("requeued %s message: %s", name, why)
    raise Reject(why, requeue=True) from None


def held(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` tried again in place while a transient failure lasts, then requeued (never discarded)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        start, delay, first = time.monotonic(), FIRST_DELAY_SECONDS, True
        try:
            while True:
                try:
                    return fn(*args, **kwargs)
                except TRANSIENT as exc:
                    why = errors.one_line(f"{type(exc).__name__}: {exc}")
                    if time.monotonic() - start + delay > TRANSIENT_HOLD_SECONDS:
                        _requeue(name, f"{why}; still failing after {TRANSIENT_HOLD_SECONDS:.0f} s")
                    # one line per held message, not one per attempt
                    (log.warning if first else log.debug)("%s message held: %s; trying again", name, why)
                    first = False
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_DELAY_SECONDS)
        except SoftTimeLimitExceeded:
            _requeue(name, f"ran past its soft time limit of {SOFT_LIMIT_SECONDS:.0f} s")

    return run


def board_task(name: str) -> Callable[[Callable[..., Any]], Any]:
    """A Celery entry point whose message is acknowledged only after its effect (see above)."""

    def wrap(fn: Callable[..., Any]) -> Any:
        return shared_task(name=name, acks_late=True, reject_on_worker_lost=True, soft_time_limit=SOFT_LIMIT_SECONDS,
                           time_limit=HARD_LIMIT_SECONDS)(held(name, fn))

    return wrap
