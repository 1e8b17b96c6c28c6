"""The Celery app. Agents are the pool processes of ``phoenix-board workers``.

* JSON only; no result backend: the board (PostgreSQL) is where results live.
* Late acks with requeue when a pool process dies (``task_reject_on_worker_lost``): a wake-up
  being worked when its process is killed goes back to the queue. The work itself is fenced in
  the board, so a requeued message never completes a task twice.
* Prefetch 1: a pool process busy with a slow handler does not hold messages back from idle ones.
* Queues: ``<prefix>.board`` (submissions, votes, comments: any agent may file them) and
  ``<prefix>.team.<team>`` (wake-ups, assessments, reviews for that team's agents).
* Task events (``PHOENIX_TASK_EVENTS``, on in docker-compose): what ``celery events``, Flower and
  celery-exporter read; off by default, as in Celery, since every task then costs a few messages.
* ``app`` (module attribute): built on first use from the settings, so that Celery's own tools load
  it: ``celery -A phoenix_board.workers.app inspect ping`` (README "Celery's own tools and Flower").
"""

from __future__ import annotations

from celery import Celery

from phoenix_board.board.settings import Settings

TASK_MODULES = ["phoenix_board.workers.tasks"]
# imported by the worker with the task modules: registers `inspect phoenix_agents` (workers/control.py)
CONTROL_MODULES = ["phoenix_board.workers.control"]


def make_app(broker: str, settings: Settings) -> Celery:
    app = Celery("phoenix_board", broker=broker, include=[*TASK_MODULES, *CONTROL_MODULES])
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
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
    )
    return app


def __getattr__(name: str) -> Celery:
    # PEP 562: `celery -A phoenix_board.workers.app` reads this module's `app`; building it here, on
    # first use, keeps importing the module free of settings and of a broker
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from phoenix_board.workers import control  # noqa: F401 - registers `inspect phoenix_agents`

    settings = Settings()
    if not settings.redis_url:
        raise RuntimeError("set PHOENIX_REDIS_URL to the board's broker to use Celery's tools on it")
    globals()["app"] = built = make_app(settings.redis_url, settings)
    return built
