"""How agents judge: the assess hook (a vote on a new task) and the review hook (a verdict on a
result). Replace them with ``set_assess`` / ``set_review`` or with an entry point in the group
``phoenix_board.hooks`` named ``assess`` or ``review``.

Default assess rule: an agent whose specialization includes the task's category upvotes it when
its priority is at least 7 or its deadline is within a day, downvotes it when its priority is 2 or
less and it has no description, and otherwise abstains (returns 0).

Default review rule: with a quality score, approve when it is at least 0.5; without one, approve
when the output is a non-empty object; reject otherwise.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

from phoenix_board.board import models

log = logging.getLogger(__name__)

Assess = Callable[[models.Task, models.Agent], int]
Review = Callable[[models.Task, models.Agent], int]


def default_assess(task: models.Task, agent: models.Agent) -> int:
    soon = task.deadline is not None and task.deadline - datetime.now(UTC) < timedelta(days=1)
    if task.priority >= 7 or soon:
        return 1
    if task.priority <= 2 and not task.description:
        return -1
    return 0


def default_review(task: models.Task, agent: models.Agent) -> int:
    if task.quality_score is not None:
        return 1 if task.quality_score >= 0.5 else -1
    return 1 if isinstance(task.output, dict) and task.output else -1


_hooks: dict[str, Callable] = {"assess": default_assess, "review": default_review}


@functools.cache
def _load_entry_points() -> None:
    for ep in entry_points(group="phoenix_board.hooks"):
        if ep.name in _hooks:
            try:
                _hooks[ep.name] = ep.load()
            except Exception:
                log.exception("could not load hook %s from %s", ep.name, ep.value)


def set_assess(fn: Assess) -> None:
    _load_entry_points()
    _hooks["assess"] = fn


def set_review(fn: Review) -> None:
    _load_entry_points()
    _hooks["review"] = fn


def assess(task: models.Task, agent: models.Agent) -> int:
    _load_entry_points()
    return int(_hooks["assess"](task, agent))


def review(task: models.Task, agent: models.Agent) -> int:
    _load_entry_points()
    return int(_hooks["review"](task, agent))
