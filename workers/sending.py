"""Sending the board's Celery messages: the message names, their queues, and the requests that
processes send one another (wake-ups, assessment requests, reviewers' wake-ups).

A leaf: it imports neither Celery nor the worker's modules, only the board and the settings, and
is handed the Celery app it sends with. So the agents' pool processes, the worker's idle poller,
the queue client and the beat (which runs no agent and imports nothing else of ``workers``) all
send through this one module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from phoenix_board.board import models
from phoenix_board.board.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from phoenix_board.board.db import Database

log = logging.getLogger(__name__)

# the names of the board's Celery tasks (workers/tasks.py's entry points)
WAKE = "phoenix.wake"
SUBMIT = "phoenix.submit"
SUBMIT_MANY = "phoenix.submit_many"
VOTE = "phoenix.vote"
COMMENT = "phoenix.comment"
CANCEL = "phoenix.cancel"
CASCADE = "phoenix.cascade"
ASSESS = "phoenix.assess"
REVIEW = "phoenix.review"

# wake-ups sent for one delegation at most: awake agents keep claiming, and the idle poller
# wakes more while claimable work waits
DELEGATION_WAKE_MAX = 8
# assessments requested for one new task at most (agents whose specialization matches its category)
ASSESSORS_MAX = 5


def send(app: Celery, name: str, body: dict[str, Any], queue: str) -> None:
    """One message: ``name(body=...)`` on ``queue``; the one shape every entry point accepts (messages.body)."""
    app.send_task(name, kwargs={"body": body}, queue=queue)


def wake_team(app: Celery, settings: Settings, team: str, n: int = 1, only_if_idle: bool = False) -> int:
    """Sends up to n wake-ups to a team's agents; with only_if_idle, none while some are queued.
    Returns how many it sent."""
    queue = settings.team_queue(team)
    if only_if_idle:
        # a connection of the app's pool, kept between calls: a new one per check (connection_for_write)
        # cost a TCP connect and a channel set-up per submission, more than the submission itself
        with app.pool.acquire(block=True) as conn:
            waiting = conn.default_channel.client.llen(queue)
        n = max(0, n - waiting)
    for _ in range(n):
        send(app, WAKE, {"team": team}, queue)
    return n


def wake_for_children(app: Celery, settings: Settings, parent: models.Task) -> None:
    """A delegation put children on the board: wake some of the team's agents for them (the
    delegating agent itself claims on, so one fewer)."""
    left = parent.children_total - parent.children_done - parent.children_failed
    if left > 1:
        try:
            wake_team(app, settings, parent.team, min(left - 1, DELEGATION_WAKE_MAX), only_if_idle=True)
        except Exception:  # the broker is away: the idle poller wakes agents for the children later
            log.warning("could not send wake-ups for the children of task %s", parent.id)


def request_reviews(app: Celery, settings: Settings, db: Database, task: models.Task) -> None:
    """Wakes the teams of review_quorum live peers that may review a result (never the executor;
    its partners and team first). Only a wake-up: the review itself is a place on the board that
    a woken agent claims (docs/concepts/review.md), so a wake-up that is lost, or never sent because this
    process died after the result committed, only delays it until an idle poller or a working
    agent of an eligible team takes it."""
    try:
        picked = db.all("agents_pick_reviewers", team=task.team, category=task.category,
                        exclude=task.assigned_to, n=task.review_quorum)
        teams: dict[str, int] = {}
        for row in picked:
            teams[row["team"]] = teams.get(row["team"], 0) + 1
        for team, n in teams.items():
            wake_team(app, settings, team, n, only_if_idle=True)
    except Exception:  # the broker or the database is away: the idle pollers find the reviews
        log.warning("could not send wake-ups for the reviews of task %s", task.id)


def request_assessments(app: Celery, settings: Settings, db: Database, task: models.Task,
                        specialists: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """Agents whose specialization includes the task's category assess it and may vote.
    ``specialists`` caches the lookup per category across a batch."""
    cache = {} if specialists is None else specialists
    if task.category not in cache:
        cache[task.category] = db.all("agents_matching_category", category=task.category, exclude=None,
                                      n=ASSESSORS_MAX + 1)
    picked = [row for row in cache[task.category] if row["id"] != task.created_by][:ASSESSORS_MAX]
    for row in picked:
        send(app, ASSESS, {"task": str(task.id), "agent": str(row["id"])}, settings.team_queue(row["team"]))
