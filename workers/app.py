"""The Celery app. Agents are the pool processes of ``phoenix-board workers``.

* JSON only; no result backend: the board (PostgreSQL) is where results live.
* Delivery (``delivery.py``): a board message is acknowledged only after its effect commits or it
  is refused for good; a transient failure holds it, then requeues it, never discards it; a
  process killed under it, or past its hard time limit, requeues it. Holds are bounded, so the
  broker redelivers a dead worker's messages within ``delivery.REDELIVERY_BOUND_SECONDS``.
  Wake-ups and beat jobs are acknowledged on receipt (``task_acks_late`` off by default; the
  board's tasks opt in). The work itself is fenced in the board, so a redelivered message never
  completes a task twice.
* No prefetch beyond free processes (``worker_disable_prefetch``): a message waits in the broker,
  not unacknowledged in a busy worker, so its hold time is its run time only.
* Only the board's own tasks, JSON only, bodies up to ``delivery.MESSAGE_MAX_BYTES``: anything else
  is refused in one log line by the consumer (``guard.py``).
* Queues: ``<prefix>.board`` (submissions, votes, comments: any agent may file them) and
  ``<prefix>.team.<team>`` (wake-ups, assessments, reviews for that team's agents).
* Task events (``PHOENIX_TASK_EVENTS``, on in docker-compose): what ``celery events``, Flower and
  celery-exporter read; off by default, as in Celery, since every task then costs a few messages.
* ``app`` (module attribute): built on first use from the settings, so that Celery's own tools load
  it: ``celery -A phoenix_board.workers.app inspect ping`` (docs/operations/celery-tools.md).
"""

from __future__ import annotations

from celery import Celery

from phoenix_board.board.settings import Settings
from phoenix_board.workers import delivery

TASK_MODULES = ["phoenix_board.workers.tasks"]
# an agent's start and stop in each pool process, or a thread pool's agents (Celery's signals),
# connected when the worker imports them
AGENT_MODULES = ["phoenix_board.workers.signals", "phoenix_board.workers.thread_agents"]
# imported by the worker with the task modules: registers `inspect phoenix_agents` (workers/control.py)
CONTROL_MODULES = ["phoenix_board.workers.control"]


def make_app(broker: str, settings: Settings) -> Celery:
    app = Celery("phoenix_board", broker=broker, include=[*TASK_MODULES, *AGENT_MODULES, *CONTROL_MODULES])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=False,
        task_acks_on_timeout=False,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        worker_consumer="phoenix_board.workers.guard:GuardedConsumer",
        task_default_queue=settings.board_queue(),
        broker_transport="phoenix_board.workers.transport:Transport",  # Redis, no restore at close
        broker_transport_options={
            "visibility_timeout": delivery.VISIBILITY_TIMEOUT_SECONDS,
            "unacked_restore_interval": delivery.RESTORE_SWEEP_SECONDS,
            "unacked_restore_throttle": 1,  # every sweep scans: the interval alone sets the period
            "unacked_mutex_expire": delivery.RESTORE_MUTEX_SECONDS,
        },
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
