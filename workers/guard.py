"""The worker's consumer: what may come in from the board's queues (docs/operations/running-agents.md).

Celery's consumer runs any registered task, its builtins included (``celery.accumulate``,
``celery.chord_unlock``…), and logs a message it cannot use (an unknown task name, a pickle or
YAML body, invalid JSON) on many lines with its body and a traceback; a 50 MB body is decoded in
the main process and then again in a pool process. :class:`GuardedConsumer` runs only the
board's own tasks (named ``phoenix.*``) and refuses everything else before any task code runs:

* a body over ``delivery.MESSAGE_MAX_BYTES``, a content type other than JSON, or a countdown
  (the board's messages never carry one; one would be held unacknowledged past the visibility
  timeout) are refused before the body is decoded (the broker's transport has read it by then);
* an unknown or builtin task name, an undecodable body, a message that is not a task message are
  refused where Celery finds them.

Each refusal is one log line, ``rejected <what> message: <why>``, that never quotes the body, the
message is dropped (rejected without requeue: it can never succeed), and the reason is counted in
``phoenix_messages_rejected_total{reason}``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer
from kombu.exceptions import ContentDisallowed

from phoenix_board.board import inputs
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import batching, delivery, sending, tasks

log = logging.getLogger(__name__)

OWN_PREFIX = "phoenix."
CONTENT_TYPE = "application/json"


def _task_name(message: Any) -> str:
    headers = message.headers if isinstance(message.headers, dict) else {}
    return inputs.shown(headers.get("task"))[:80]


class GuardedConsumer(Consumer):
    def update_strategies(self) -> None:
        super().update_strategies()
        for name in list(self.strategies):
            if name.startswith(OWN_PREFIX):
                self.strategies[name] = self._checked(self.strategies[name])
            else:  # builtins and anything else registered in this process: unknown to the board's queues
                del self.strategies[name]
        # separate submissions are written together (batching.py); one batcher for the consumer's life
        if not hasattr(self, "submit_batcher"):
            self.submit_batcher = batching.SubmitBatcher(self, tasks.submit_batch)
        self.strategies[sending.SUBMIT] = self._checked(self.submit_batcher.strategy)

    def _checked(self, strategy: Any) -> Any:
        """The task's strategy (which decodes the body and hands it to a pool process), behind the
        checks that need no decoding."""

        def run(message: Any, *args: Any, **kwargs: Any) -> Any:
            size = len(message.body or b"")
            if size > delivery.MESSAGE_MAX_BYTES:
                return self._refuse(message, "too_large",
                                    f"{size:,} bytes, over the limit of {delivery.MESSAGE_MAX_BYTES:,}")
            if message.content_type != CONTENT_TYPE:
                return self._refuse(message, "content_type",
                                    f"content type {inputs.shown(message.content_type)[:60]}; only JSON is accepted")
            if isinstance(message.headers, dict) and (message.headers.get("eta") or message.headers.get("countdown")):
                return self._refuse(message, "invalid", "a countdown or eta; the board's messages run at once")
            return strategy(message, *args, **kwargs)

        return run

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._refuse(message, "malformed", "not a Celery task message")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        self._refuse(message, "unknown_task", "not a task of the board")

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        if isinstance(exc, ContentDisallowed):
            self._refuse(message, "content_type", "a serializer other than JSON")
        else:
            self._refuse(message, "invalid", f"not a valid task message ({type(exc).__name__})")

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self._refuse(message, "undecodable", f"body cannot be decoded ({type(exc).__name__})")

    def _refuse(self, message: Any, reason: str, why: str) -> None:
        worker_metrics.count_rejection(reason)
        log.warning("rejected %s message: %s", _task_name(message), why)
        message.reject_log_error(log, self.connection_errors, requeue=False)
