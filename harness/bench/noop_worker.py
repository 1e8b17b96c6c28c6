"""The e2e benchmark's baseline worker: Celery's own no-op task, with the board's app settings.

``python -m phoenix_board.harness.bench.noop_worker URL QUEUE N`` runs a prefork worker of N
processes on QUEUE. The task is ``e2e.noop``, imported by name, and this module defines none:
run as ``__main__``, a task defined here would be registered once as ``__main__.noop`` and again
when the worker imports the module by its real name (Celery's ``DuplicateTaskNameWarning``).
"""

from __future__ import annotations

import sys

from phoenix_board.board.settings import Settings
from phoenix_board.workers.app import make_app

TASKS = "phoenix_board.harness.bench.e2e"  # holds the baseline's task, phoenix.bench.noop


def main(url: str, queue: str, processes: str) -> None:
    app = make_app(url, Settings())
    app.conf.include = [TASKS]
    app.worker_main(["worker", "--pool", "prefork", "--concurrency", processes, "--queues", queue,
                     "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"])


if __name__ == "__main__":
    main(*sys.argv[1:4])
