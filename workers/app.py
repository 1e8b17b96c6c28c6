"""The Celery app. Agents are the pool processes of ``phoenix-board workers``.

* JSON only; no result backend: the board (PostgreSQL) is where results live.
* Late acks with requeue when a pool process dies (``task_reject_on_worker_lost``): a wake-up
  being worked when its process is killed goes back to the queue. The work itself is fenced in
  the board, so a requeued message never completes a task twice.
* Prefetch 1: a pool process busy with a slow handler does not hold messages back from idle ones.
* Queues: ``<prefix>.board`` (submissions, votes, comments: any agent may file them) and
  ``<prefix>.team.<team>`` (wake-ups, assessments, reviews for that team's agents).
"""

from __future__ import annotations

from celery import Celery

from phoenix_board.board.settings import Settings

TASK_MODULES = ["phoenix_board.workers.tasks"]


def make_app(broker: str, settings: Settings) -> Celery:
    app = Celery("phoenix_board", broker=broker, include=TASK_MODULES)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.board_queue(),
        # a wake-up runs for at most work_budget_seconds; redeliver an unacked one well after that
        broker_transport_options={"visibility_timeout": max(300, int(settings.work_budget_seconds * 4))},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app
