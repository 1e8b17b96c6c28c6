"""Task transitions: submit, claim, renew, start, result, review, fail, release expired.

::

    open --claim--> claimed --start--> in_progress --result--> review --consensus +--> complete
      ^                |                    |                       |
      +--lease expired-+-----fail (attempts left)-------------------+--consensus - (reopen)
                               fail (no attempts left) --> failed

Each transition is one call of a SQL function (``sql/functions``), so it is one transaction and
one round trip, and writes its ``task_events`` row and the agent's counters, hormones and trust
in that same transaction. Every transition made by a claimant names the attempt it claimed: the
attempt number is a fencing token, and a late call for an attempt that is no longer current
raises :class:`errors.StaleClaim` and changes nothing. ``result`` also accepts a task that was
claimed but never started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database


def submit(db: Database, data: models.TaskSubmit | dict[str, Any], now: datetime | None = None) -> tuple[models.Task, bool]:
    """Creates a task; with an idempotency key already used, returns that task. -> (task, created)"""
    spec = models.parse(models.TaskSubmit, data)
    row = db.one("task_submit", **_submit_params(spec, now))
    return models.Task.from_row(row), bool(row["created"])


def submit_many(db: Database, items: list[tuple[models.TaskSubmit | dict[str, Any], UUID | None]],
                now: datetime | None = None) -> list[tuple[models.Task, bool] | errors.BoardError]:
    """Creates many tasks in one transaction, each ``(submission, acting agent)`` as ``submit`` would,
    idempotency key included: a refused one (bad input, unknown team, ...) is undone alone and its
    error stands in its place in the answer; the others commit together. -> per item, (task, created)
    or the error"""
    out: list[tuple[models.Task, bool] | errors.BoardError] = []
    specs: list[tuple[Any, models.TaskSubmit]] = []
    places: list[int] = []
    for data, actor in items:
        try:
            specs.append((actor, models.parse(models.TaskSubmit, data)))
            places.append(len(out))
            out.append(errors.BoardError("not submitted"))  # replaced below
        except errors.BoardError as exc:
            out.append(exc)
    calls = [(actor, _submit_params(spec, now)) for actor, spec in specs]
    for place, row in zip(places, db.one_each("task_submit", calls), strict=True):
        out[place] = row if isinstance(row, errors.BoardError) else (models.Task.from_row(row), bool(row["created"]))
    return out


def _submit_params(spec: models.TaskSubmit, now: datetime | None) -> dict[str, Any]:
    """The named submission's parameters for task_submit (20_task_submit.sql), flow fields included."""
    return dict(
        title=spec.title,
        description=spec.description,
        category=spec.category,
        payload=Jsonb(spec.payload),
        priority=spec.priority,
        team=spec.team,
        created_by=spec.created_by,
        dopamine_reward=spec.dopamine_reward,
        max_attempts=spec.max_attempts,
        review_quorum=spec.review_quorum,
        depends_on=list(spec.depends_on),
        deadline=spec.deadline,
        fibonacci_size=spec.fibonacci_size,
        idempotency_key=spec.idempotency_key,
        now=now,
        needs_person=spec.needs_person,
        not_before=spec.not_before,
        concurrency_key=spec.concurrency_key,
        concurrency_limit=spec.concurrency_limit,
    )


def claim(db: Database, agent: UUID, lease_seconds: float = constants.LEASE_SECONDS, now: datetime | None = None) -> models.Task | None:
    """The next task in the claim order for this agent, claimed; None when nothing is claimable."""
    row = db.one("task_claim", agent=_agent(agent), lease=_lease(lease_seconds), now=now)
    return models.Task.from_row(row) if row else None


def renew(db: Database, task: UUID, agent: UUID, attempt: int, lease_seconds: float = constants.LEASE_SECONDS,
          now: datetime | None = None) -> models.Task:
    return models.Task.from_row(
        db.one("task_renew", **_claim(task, agent, attempt), lease=_lease(lease_seconds), now=now)
    )


def renew_held(db: Database, holder: UUID, claims: list[tuple[UUID, UUID, int]],
               lease_seconds: float = constants.LEASE_SECONDS, now: datetime | None = None) -> list[tuple[UUID, UUID, int, str]]:
    """Renews the leases of many claims, each ``(task, agent, attempt)``, in one statement: a thread
    pool's, whose holder token stands for its agents (workers/runtime.py). -> the claims it could
    not renew, ``(task, agent, attempt, why)``: their work is lost"""
    if not claims:
        return []
    checked = [_claim(task, agent, attempt) for task, agent, attempt in claims]
    rows = db.all("task_renew_held", holder=models.uuid_arg(holder, "holder"),
                  tasks=[c["task"] for c in checked], agents=[c["agent"] for c in checked],
                  attempts=[c["attempt"] for c in checked], lease=_lease(lease_seconds), now=now)
    return [(r["task_id"], r["agent_id"], r["attempt"], r["lost"]) for r in rows]


def start(db: Database, task: UUID, agent: UUID, attempt: int, lease_seconds: float = constants.LEASE_SECONDS,
          now: datetime | None = None) -> models.Task:
    return models.Task.from_row(
        db.one("task_start", **_claim(task, agent, attempt), lease=_lease(lease_seconds), now=now)
    )


def result(db: Database, task: UUID, agent: UUID, attempt: int, output: Any = None, quality: float | None = None,
           now: datetime | None = None) -> models.Task:
    """Submits the claimant's result: the task completes, or waits in review when it has a quorum."""
    res = models.parse(models.Result, {"output": {} if output is None else output, "quality": quality})
    return models.Task.from_row(
        db.one("task_result", **_claim(task, agent, attempt), output=Jsonb(res.output),
               quality=res.quality, now=now)
    )


def fail(db: Database, task: UUID, agent: UUID, attempt: int, reason: str, now: datetime | None = None) -> models.Task:
    """The claimant failed: the task retries after a backoff, or fails for good at max_attempts."""
    why = models.parse(models.Reason, {"reason": reason})
    return models.Task.from_row(db.one("task_fail", **_claim(task, agent, attempt), reason=why.reason, now=now))


def fail_unhandled(db: Database, task: UUID, agent: UUID, attempt: int, now: datetime | None = None) -> models.Task:
    """The claimant has no handler for the task's category: the task fails for good at once, and
    the agent is not blamed (no failure count, cortisol or trust), since no retry would help."""
    return models.Task.from_row(db.one("task_fail_unhandled", **_claim(task, agent, attempt), now=now))


def fail_unloadable(db: Database, task: UUID, agent: UUID, attempt: int, reason: str,
                    now: datetime | None = None) -> dict[str, Any]:
    """The claimant could not load the task it claimed (its row holds what the agent cannot
    decode or validate): the task fails for good at once with that reason, and the agent is not
    blamed, since every attempt would meet the same row. -> {id, attempt, status}, never the row."""
    why = errors.one_line(reason)[:500] or "no reason given"
    row = db.one("task_fail_unloadable", **_claim(task, agent, attempt), reason=why, now=now)
    assert row is not None
    return row


def claim_held(db: Database, agent: UUID) -> tuple[UUID, int] | None:
    """(task id, attempt) of the live claim this agent holds, or None: read without loading the
    task's row, for when that row is what failed to load."""
    row = db.one("task_claim_held", agent=_agent(agent))
    return (row["id"], row["attempt"]) if row else None


def claim_start(db: Database, agent: UUID, lease_seconds: float = constants.LEASE_SECONDS,
                now: datetime | None = None) -> models.Task | None:
    """Claims the next task and starts it, in one call (an agent about to work it)."""
    row = db.one("task_claim_start", agent=_agent(agent), lease=_lease(lease_seconds), now=now)
    return models.Task.from_row(row) if row else None


def result_claim_next(db: Database, task: UUID, agent: UUID, attempt: int, output: Any = None,
                      quality: float | None = None, lease_seconds: float = constants.LEASE_SECONDS,
                      now: datetime | None = None) -> tuple[models.Task, models.Task | None]:
    """Submits a result and claims and starts the next task, in one call. -> (task, next or None)"""
    res = models.parse(models.Result, {"output": {} if output is None else output, "quality": quality})
    rows = db.all("task_result_claim_next", **_claim(task, agent, attempt), output=Jsonb(res.output),
                  quality=res.quality, lease=_lease(lease_seconds), now=now)
    return models.Task.from_row(rows[0]), (models.Task.from_row(rows[1]) if len(rows) > 1 else None)


def review(db: Database, task: UUID, agent: UUID, verdict: int, reason: str | None = None,
           now: datetime | None = None) -> tuple[models.Task, str | None]:
    """A peer's verdict (+1 / -1) on the attempt in review. -> (task, 'approved' | 'rejected' | None)"""
    if isinstance(verdict, bool) or verdict not in (-1, 1):
        raise errors.InvalidInput(f"verdict must be +1 or -1, not {inputs.shown(verdict)}")
    vote = models.parse(models.Vote, {"value": verdict, "reason": reason})
    row = db.one("task_review", task=models.uuid_arg(task, "task"), agent=_agent(agent), verdict=vote.value,
                 reason=vote.reason, now=now)
    return models.Task.from_row(row), row["decided"]


def review_claim(db: Database, agent: UUID, lease_seconds: float = constants.LEASE_SECONDS,
                 now: datetime | None = None) -> models.Task | None:
    """Takes a place among the reviewers of the oldest task in review this agent may review, held
    for the lease; None when no review is waiting for it. Its verdict (``review``) fills the place;
    if none comes, the place is free again when the lease ends (docs/concepts/review.md)."""
    row = db.one("task_review_claim", agent=_agent(agent), lease=_lease(lease_seconds), now=now)
    return models.Task.from_row(row) if row else None


def review_expire(db: Database, now: datetime | None = None, limit: int = 100) -> list[models.Task]:
    """Fails for good, with the reason, the tasks left in review past REVIEW_EXPIRE_SECONDS; the beat
    calls this."""
    return [models.Task.from_row(r) for r in db.all("tasks_review_expire", now=now, limit=limit)]


def review_shortfall(db: Database, task: models.Task) -> str | None:
    """A warning when a task's review quorum cannot be met by the live agents that may review it
    now (its team and the specialists of its category, less the executor); None otherwise."""
    if task.review_quorum == 0:
        return None
    pool = db.one("agents_review_pool", team=task.team, category=task.category)["n"]
    peers = max(pool - 1, 0)  # the executor will be one of them and never reviews its own work
    if peers >= task.review_quorum:
        return None
    return (f"task {task.id} needs {task.review_quorum} review verdict(s) but only {peers} live agent(s) of team "
            f"{task.team} or specialists of {task.category} besides its executor may review it: after "
            f"{constants.REVIEW_WIDEN_SECONDS:.0f} s in review any agent may, after "
            f"{constants.REVIEW_EXPIRE_SECONDS:.0f} s it fails")


def release_expired(db: Database, now: datetime | None = None, limit: int = 1000) -> list[models.Task]:
    """Returns expired claims to the board (one batch of at most ``limit``); the beat calls this."""
    return [models.Task.from_row(r) for r in db.all("task_release_expired", now=now, limit=limit)]


def get(db: Database, task: UUID | str) -> models.Task:
    task_id = models.uuid_arg(task, "task")
    row = db.one("task_get", task=task_id)
    if row is None:
        raise errors.NotFound(f"task {task_id} not found")
    return models.Task.from_row(row)


def counts_by_status(db: Database, team: str | None = None) -> list[dict[str, Any]]:
    """How many tasks each team has in each status: rows of team, status, n."""
    return db.all("task_status_counts", team=team)


def events(db: Database, task: UUID) -> list[dict[str, Any]]:
    return db.all("task_events_for", task=models.uuid_arg(task, "task"))


def _agent(agent: Any) -> UUID:
    return models.uuid_arg(agent, "agent")


def _claim(task: Any, agent: Any, attempt: Any) -> dict[str, Any]:
    """The checked arguments that name a claim: which task, which agent, which attempt."""
    return {"task": models.uuid_arg(task, "task"), "agent": _agent(agent),
            "attempt": models.whole_arg(attempt, "attempt", 0, constants.ATTEMPT_MAX)}


def _lease(seconds: Any) -> float:
    return models.seconds_arg(seconds, "lease", constants.LEASE_MAX_SECONDS)
