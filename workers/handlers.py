"""Handlers: what an agent does with a task of a given category.

A handler is a callable ``(task, context) -> Result | dict | None``. Register one with the
decorator, or from another package with an entry point in the group ``phoenix_board.handlers``
(``my_category = my_pkg.module:function``), which every agent of the installation loads. Modules
named in ``PHOENIX_HANDLER_MODULES`` (comma-separated) are imported by the agents of that
environment only, and register with the decorator: the fault rig gives its own pools the
``probe`` handler so. Raising fails the attempt (the board retries with
backoff); a category without a handler fails with that reason.

A handler may split its task instead of finishing it (docs/concepts/delegation.md): it returns
``context.delegate(children, join=..., on_failure=...)`` (or a :class:`Delegate` it builds). The
attempt then ends with the delegation, the agent is free at once, and when the join is met the task
comes back to the board; the handler runs again and finds the children's outcomes in
``context.children`` (with ``context.escalated`` set when a failure was escalated to this agent).
Never wait on another task inside a handler: the waiting parent holds no agent.

What a handler spent (docs/concepts/flow-control.md) travels in its output: an object ``usage``,
``{"tokens_in": n, "tokens_out": n, "cost": x, "model": "name"}``, is recorded for the attempt and
counts against its team's and category's budgets; a malformed one fails the attempt.

A handler may be a coroutine function (``async def``): its agent runs it on the process's one
event loop and waits (workers/coroutines.py).

Built in: ``noop``, ``sleep`` and ``async_sleep`` (payload ``{"seconds": x}``) for tests and benchmarks, and the
demo categories that ``up --demo`` submits, which say plainly in their output that they are demo
work and did nothing real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from phoenix_board.board import models

log = logging.getLogger(__name__)

ENV_MODULES = "PHOENIX_HANDLER_MODULES"


@dataclasses.dataclass(frozen=True)
class Result:
    output: dict[str, Any]
    quality: float | None = None


@dataclasses.dataclass(frozen=True)
class Delegate:
    """Ends the attempt by splitting the task: ``children`` are task specs (title, and optionally
    key, description, category, payload, priority, max_attempts, fibonacci_size, review_quorum);
    ``join`` is "all", "any" or how many must complete; ``on_failure`` "fail" or "ignore"."""

    children: list[dict[str, Any]]
    join: str | int = "all"
    on_failure: str = "fail"


@dataclasses.dataclass
class Context:
    """What a handler may use: who it is, a way to keep its lease while it works, and, for a
    task back from a join, its children's outcomes (in the order they were asked for)."""

    agent_id: Any
    codename: str
    team: str
    lost: threading.Event = dataclasses.field(default_factory=threading.Event)
    children: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    escalated: bool = False

    def delegate(self, children: list[dict[str, Any]], join: str | int = "all", on_failure: str = "fail") -> Delegate:
        """The value to return to split the task into ``children`` (see :class:`Delegate`)."""
        return Delegate(list(children), join, on_failure)

    def still_mine(self) -> bool:
        """False once the claim was lost (its lease lapsed and the task moved on): stop working,
        the result would be refused anyway."""
        return not self.lost.is_set()


Handler = Callable[[models.Task, Context], "Result | dict[str, Any] | None"]
_registry: dict[str, Handler] = {}


def handler(category: str) -> Callable[[Handler], Handler]:
    """Registers the decorated function as the handler of ``category``."""

    def register(fn: Handler) -> Handler:
        _registry[category] = fn
        return fn

    return register


@functools.cache
def _load_plugins() -> None:
    for module in filter(None, (m.strip() for m in os.environ.get(ENV_MODULES, "").split(","))):
        try:
            importlib.import_module(module)
        except Exception:  # as a broken entry point: the agent runs, the module's categories have no handler
            log.exception("could not import handler module %s named in %s", module, ENV_MODULES)
    for ep in entry_points(group="phoenix_board.handlers"):
        try:
            _registry.setdefault(ep.name, ep.load())
        except Exception:  # a broken plugin must not stop the agent; its category just has no handler
            log.exception("could not load handler %s from %s", ep.name, ep.value)


def lookup(category: str) -> Handler | None:
    _load_plugins()
    return _registry.get(category)


def categories() -> list[str]:
    """Every category with a handler here (built in, registered, entry points, modules named in
    the environment)."""
    _load_plugins()
    return sorted(_registry)


def as_result(value: Result | Delegate | dict[str, Any] | None) -> Result | Delegate:
    if isinstance(value, Result | Delegate):
        return value
    if value is None:
        return Result({})
    if isinstance(value, dict):
        return Result(value)
    raise TypeError(f"a handler must return a Result, a Delegate, a dict or None, not {type(value).__name__}")


@handler("noop")
def noop(task: models.Task, context: Context) -> Result:
    return Result({}, 1.0)


@handler("sleep")
def sleep(task: models.Task, context: Context) -> Result:
    seconds = float(task.payload.get("seconds", 1.0))
    if not 0 <= seconds <= 3600:
        raise ValueError(f"sleep: seconds must be between 0 and 3600, not {seconds}")
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))
    return Result({"slept": seconds}, 1.0)


@handler("async_sleep")
async def async_sleep(task: models.Task, context: Context) -> Result:
    """``sleep`` as a coroutine: it waits on the process's event loop (workers/coroutines.py), as a
    handler that awaits a language model's answer would; for tests and ``bench agents``."""
    seconds = float(task.payload.get("seconds", 1.0))
    if not 0 <= seconds <= 3600:
        raise ValueError(f"async_sleep: seconds must be between 0 and 3600, not {seconds}")
    await asyncio.sleep(seconds)
    return Result({"slept": seconds, "by": context.codename}, 1.0)


# The seed's task categories, for `up --demo`. They simulate work: a short pause and a
# deterministic quality derived from the task id, so reviews sometimes reject.
DEMO_CATEGORIES = ("data_mining", "lead_gen", "content", "development")


def _demo(task: models.Task, context: Context) -> Result:
    digest = hashlib.sha256(task.id.bytes).digest()
    time.sleep(0.05 + digest[0] / 255 * 0.4 * task.fibonacci_size / 5)
    quality = round(0.35 + digest[1] / 255 * 0.65, 3)
    return Result(
        {"demo": True, "note": f"demo work: {task.category} was simulated by {context.codename}; nothing real was done"},
        quality,
    )


for _category in DEMO_CATEGORIES:
    handler(_category)(_demo)


@handler("plan")
def plan(task: models.Task, context: Context) -> Result | Delegate:
    """Demo delegation: a plan splits into 2-4 demo steps (the number from the task id), then,
    back from the join, sums up what its steps reported."""
    if context.children:
        done = [c for c in context.children if c["status"] == "complete"]
        quality = round(sum(c["quality_score"] or 0 for c in done) / max(len(context.children), 1), 3)
        return Result({"demo": True, "steps": len(context.children), "completed": len(done),
                       "escalated": context.escalated,
                       "note": f"demo plan joined by {context.codename}; nothing real was done"}, quality)
    digest = hashlib.sha256(task.id.bytes).digest()
    steps = 2 + digest[2] % 3
    return context.delegate([
        {"title": f"{task.title[:180]}: step {i + 1}", "key": f"step-{i + 1}",
         "category": DEMO_CATEGORIES[(digest[3] + i) % len(DEMO_CATEGORIES)]}
        for i in range(steps)])
