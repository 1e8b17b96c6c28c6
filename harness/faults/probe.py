"""The ``probe`` handler of the fault runs: it writes down each of its executions.

It is no entry point of the product: the fault rig names this module in its pools' environment
(``PHOENIX_HANDLER_MODULES``, see workers/handlers.py), so only those agents load it.

A fault run has to tell "the handler ran twice" (expected after a kill: work is at least once)
from "the task completed twice" (never allowed). The board's ``task_events`` show completions;
this handler shows executions. It appends one line per step to a ledger file named by
``PHOENIX_PROBE_LEDGER`` in the worker's environment: ``enter`` when the handler starts,
``effect`` when it performs its side effect (the step whose repetition within one attempt would
be a real duplicate), each with the task, the attempt, the process and the agent. The file lives
outside the database, so a PostgreSQL restart cannot lose or roll back what it recorded.

Payload: ``{"before": s, "work": s}``: seconds before the side effect and after it, so that a
fault can land after the claim (before the effect) or in the middle of the work (after it).
Without the ledger variable the handler refuses to run: it is a test instrument, not work.
"""

from __future__ import annotations

import json
import os
import time

from phoenix_board.board import models
from phoenix_board.workers.handlers import Context, Result, handler

ENV_LEDGER = "PHOENIX_PROBE_LEDGER"
CATEGORY = "probe"


def record(ledger: str, step: str, task: models.Task, context: Context) -> None:
    line = json.dumps({"step": step, "task": str(task.id), "attempt": task.attempt, "pid": os.getpid(),
                       "agent": context.codename, "at": time.time()}) + "\n"
    # one write of a short line to a file opened for appending lands whole, even with many writers
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _seconds(task: models.Task, key: str) -> float:
    value = float(task.payload.get(key, 0.0))
    if not 0 <= value <= 60:
        raise ValueError(f"probe: {key} must be between 0 and 60 seconds, not {value}")
    return value


@handler(CATEGORY)
def probe(task: models.Task, context: Context) -> Result:
    ledger = os.environ.get(ENV_LEDGER)
    if not ledger:
        raise RuntimeError(f"probe: {ENV_LEDGER} is not set; this handler only runs in fault tests")
    before, work = _seconds(task, "before"), _seconds(task, "work")
    record(ledger, "enter", task, context)
    time.sleep(before)
    record(ledger, "effect", task, context)
    time.sleep(work)
    return Result({"attempt": task.attempt, "pid": os.getpid()}, 1.0)
