"""Celery entry points: wake, submit, vote, comment, assess, review.

Every message is validated first; a malformed one (another shape than one ``body``, wrong types,
missing fields, unknown task or agent, a refused operation) is rejected without retry, with a
one-line reason in the log, and writes nothing. A database or broker that is away holds the
message, then puts it back in its queue, never discards it (``delivery.py``). Messages are sent
after the transaction that justifies them has committed (each board call commits on its own).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from celery import current_app, shared_task
from celery.exceptions import Reject
from pydantic import BaseModel

from phoenix_board.board import agents, comments, delegation, errors, federation, lifecycle, models, votes
from phoenix_board.board.db import Database, acting_as
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import batching, delivery, hooks, messages, process_state, sending

log = logging.getLogger(__name__)


class _RejectInOneLine(logging.Filter):
    """Celery logs a rejected message with the traceback of the Reject: one hostile message would
    fill a page of log. The reason is what matters, and delivery.py has logged it in one line.
    (Messages refused before they reach a task are the consumer's: workers/guard.py.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], Reject):
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("celery.app.trace").addFilter(_RejectInOneLine())


def _parse(model: type[BaseModel], args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    try:
        return models.parse(model, messages.body(args, kwargs))
    except errors.InvalidInput as exc:
        _reject(name, exc)


def _reject(name: str, exc: errors.BoardError) -> None:
    delivery.reject(name, exc)


def _board() -> Database:
    """This process's board connection; a process whose agent is not set up holds the message
    (delivery.py) rather than fail it, which would acknowledge it."""
    if process_state.state.db is None:
        raise errors.Unavailable("this pool process has no board connection (its agent did not start)")
    return process_state.state.db


def _guard(name: str, fn, *args: Any) -> Any:  # type: ignore[no-untyped-def]
    """Runs a board call; refusals reject the message, an unreachable database holds it (delivery.py)."""
    try:
        return fn(*args)
    except errors.Unavailable:
        raise
    except errors.BoardError as exc:
        _reject(name, exc)


# --- entry points ----------------------------------------------------------------------------


# Acknowledged on receipt (delivery.py): a wake-up holds its process for a whole work budget, and
# one lost only delays work until the idle poller sees claimable tasks with no wake-up queued.
@shared_task(name=sending.WAKE, acks_late=False)
def wake(*args: Any, **kwargs: Any) -> int:
    msg = _parse(messages.WakeMessage, args, kwargs, "wake")
    try:
        with process_state.agent() as agent:  # a thread pool's free agent, or the process's own
            if agent.team != msg.team:
                _reject("wake", errors.InvalidInput(f"wake for team {msg.team} reached an agent of team {agent.team}"))
            return agent.work(process_state.state.settings.work_budget_seconds)
    except errors.Unavailable as exc:  # the poller wakes an agent again once the board answers
        log.warning("wake-up ended: %s", exc.message)
        return 0


def _submit_one(msg: messages.SubmitMessage, specialists: dict[str, list[dict[str, Any]]] | None = None) -> models.Task:
    with acting_as(msg.created_by):  # None: a submission by no agent
        task, created = lifecycle.submit(_board(), models.TaskSubmit(**msg.model_dump()))
    _submitted(task, created, specialists)
    return task


def _submitted(task: models.Task, created: bool, specialists: dict[str, list[dict[str, Any]]] | None) -> None:
    """After the commit: a new task's assessments are requested, a review it cannot get is logged."""
    state = process_state.state
    if created:
        sending.request_assessments(current_app, state.settings, state.db, task, specialists)
        if (shortfall := lifecycle.review_shortfall(state.db, task)) is not None:
            log.warning("%s", shortfall)


def _wake_for(tasks: list[models.Task]) -> None:
    # one wake-up per team, and none while one is already queued: awake agents keep claiming
    # until the board is empty, so more wake-ups would only queue behind them. A retried send
    # whose first copy was lost before its wake-up still wakes someone (the task is still open).
    for team in {t.team for t in tasks if t.status == models.TaskStatus.OPEN}:
        sending.wake_team(current_app, process_state.state.settings, team, 1, only_if_idle=True)


@delivery.board_task(sending.SUBMIT)
def submit(*args: Any, **kwargs: Any) -> str:
    """One submission. A worker's consumer does not run this for the messages it takes: it writes
    them together (``submit_batch``, batching.py); this runs a message anywhere else (an eager
    call, a consumer of Celery's own)."""
    msg = _parse(messages.SubmitMessage, args, kwargs, "submit")
    task = _guard("submit", _submit_one, msg)
    _wake_for([task])
    return str(task.id)


@delivery.board_task(sending.SUBMIT_MANY)
def submit_many(*args: Any, **kwargs: Any) -> int:
    """A batch of submissions in one message, written in one transaction (one commit for all): a
    refused one is undone alone, logged in one line and skipped, the others go on the board. An
    unreachable database holds the whole message (nothing was committed; keys make it idempotent)."""
    batch = _parse(messages.SubmitManyMessage, args, kwargs, "submit_many")
    msgs: list[messages.SubmitMessage] = []
    places: list[int] = []
    for i, item in enumerate(batch.tasks):
        try:
            msgs.append(models.parse(messages.SubmitMessage, item))
        except errors.BoardError as exc:
            log.warning("rejected submission %d of a batch: %s", i, exc.message)
            continue
        places.append(i)
    done = 0
    for i, outcome in zip(places, _submit_all(msgs), strict=True):
        if isinstance(outcome, errors.BoardError):
            log.warning("rejected submission %d of a batch: %s", i, outcome.message)
            continue
        done += 1
    return done


def _submit_all(msgs: list[messages.SubmitMessage]) -> list[models.Task | errors.BoardError]:
    """Submissions written in one transaction (a savepoint each), then, after the commit, the new
    tasks' assessments requested (one lookup per category) and each team woken once.
    -> per submission, its task or its refusal"""
    if not msgs:
        return []
    items = [(models.TaskSubmit(**m.model_dump()), m.created_by) for m in msgs]
    out: list[models.Task | errors.BoardError] = []
    specialists: dict[str, list[dict[str, Any]]] = {}
    for outcome in lifecycle.submit_many(_board(), items):
        if isinstance(outcome, errors.BoardError):
            out.append(outcome)
            continue
        task, created = outcome
        _submitted(task, created, specialists)
        out.append(task)
    _wake_for([t for t in out if isinstance(t, models.Task)])
    return out


def submit_batch(payloads: list[Any]) -> list[tuple[str, str]]:
    """Separate submit messages that the consumer held together (workers/batching.py), in one pool
    process: each validated alone, all written in one transaction. Never raises: every message gets
    its fate. -> per message, (batching.ACK | REJECT | REQUEUE, reason)"""
    outcomes: list[tuple[str, str]] = [(batching.REJECT, "")] * len(payloads)
    msgs: list[messages.SubmitMessage] = []
    places: list[int] = []
    for i, payload in enumerate(payloads):
        try:
            msgs.append(_submit_message(payload))
            places.append(i)
        except errors.BoardError as exc:
            outcomes[i] = (batching.REJECT, delivery.refused("submit", exc))
    for place, fate in zip(places, _write_batch(msgs), strict=True):
        outcomes[place] = fate
    return outcomes


def _submit_message(payload: Any) -> messages.SubmitMessage:
    """A submit message's decoded body (Celery's task message: args, kwargs, embed), validated as
    the ``submit`` task would."""
    if isinstance(payload, dict):  # Celery's first message protocol
        args, kwargs = payload.get("args") or (), payload.get("kwargs") or {}
    elif isinstance(payload, (list, tuple)) and len(payload) == 3:
        args, kwargs, _embed = payload
    else:
        raise errors.InvalidInput("not a valid task message (a body of another shape)")
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
        raise errors.InvalidInput("not a valid task message (arguments of the wrong types)")
    return models.parse(messages.SubmitMessage, messages.body(tuple(args), kwargs))


def _write_batch(msgs: list[messages.SubmitMessage]) -> list[tuple[str, str]]:
    """One transaction for all, held while the database or the broker is away, then requeued whole."""
    if not msgs:
        return []
    try:
        written = delivery.held("submit", _submit_all)(msgs)
    except Reject as exc:  # held gave up (logged and counted once): every message goes back
        for _ in msgs[1:]:
            worker_metrics.count_rejection("requeued")
        return [(batching.REQUEUE, str(exc.reason))] * len(msgs)
    except Exception:
        if len(msgs) == 1:  # a fault of this message alone: dropped, as a task's failure would be
            log.exception("submit message failed")
            return [(batching.REJECT, "failed")]
        # a fault of the code, not of the servers: each message alone, so it stays with its own
        log.exception("a batch of %d submit messages failed; writing them one by one", len(msgs))
        return [fate for msg in msgs for fate in _write_batch([msg])]
    return [(batching.REJECT, delivery.refused("submit", outcome)) if isinstance(outcome, errors.BoardError)
            else (batching.ACK, "") for outcome in written]


@delivery.board_task(sending.VOTE)
def vote(*args: Any, **kwargs: Any) -> None:
    msg = _parse(messages.VoteMessage, args, kwargs, "vote")
    db = _board()
    who = _guard("vote", agents.get, db, msg.agent)
    with acting_as(who.id):
        _guard("vote", votes.vote, db, msg.task, who.id, msg.value, msg.reason)
    worker_metrics.count_vote(who.team)


@delivery.board_task(sending.CANCEL)
def cancel(*args: Any, **kwargs: Any) -> int:
    """Cancels a task and its live descendants for the agent that created it (or an ancestor)."""
    msg = _parse(messages.CancelMessage, args, kwargs, "cancel")
    db = _board()
    who = _guard("cancel", agents.resolve, db, msg.agent)
    with acting_as(who):
        try:
            _, n = delegation.cancel(db, msg.task, who, msg.reason)
        except errors.IllegalTransition as exc:  # already over: a redelivered message, nothing to do
            log.info("cancel of task %s: %s", msg.task, exc.message)
            return 0
        except errors.Unavailable:
            raise
        except errors.BoardError as exc:
            _reject("cancel", exc)
    return n


@functools.cache
def _operator_db() -> Database:
    return Database(os.environ[process_state.ENV_DATABASE], min_size=1, max_size=2, name="phoenix-operator",
                    timeout=delivery.DB_WAIT_SECONDS).open()


@delivery.board_task(sending.CASCADE)
def cascade(*args: Any, **kwargs: Any) -> int:
    """The operator's hormone cascade, sent to the beat's queue by ``Client.cascade``. Only the
    beat's worker (the operator's process, working as the owner) runs it: an agent's pool process
    refuses it rather than act beyond the agent role."""
    msg = _parse(messages.CascadeMessage, args, kwargs, "cascade")
    if process_state.is_agent():
        _reject("cascade", errors.Forbidden("cascades are the operator's; send them to the beat queue"))
    run = functools.partial(federation.cascade, team=msg.team, agent=msg.agent, cascade_id=msg.id)
    row = _guard("cascade", run, _operator_db(), msg.hormone, msg.intensity)
    return int(row["reached"] or 0)


@delivery.board_task(sending.COMMENT)
def comment(*args: Any, **kwargs: Any) -> None:
    msg = _parse(messages.CommentMessage, args, kwargs, "comment")
    db = _board()
    who = _guard("comment", agents.resolve, db, msg.agent)
    with acting_as(who):
        _guard("comment", functools.partial(comments.add, idempotency_key=msg.idempotency_key),
               db, msg.task, who, msg.content, msg.parent)


def _judging(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, models.Task | None, models.Agent]:
    """The message's task as its judge sees it, or None when it may no longer: row-level security
    shows a judge open and in-review tasks only, so a task claimed or decided since the request
    was sent is gone from its view, and the request is moot."""
    msg = _parse(messages.JudgeMessage, args, kwargs, name)
    db = _board()
    judge = _guard(name, agents.get, db, msg.agent)
    with acting_as(judge.id):
        try:
            return db, lifecycle.get(db, msg.task), judge
        except errors.NotFound:
            log.info("%s of task %s by %s skipped: not open or in review (or unknown)", name, msg.task, judge.codename)
            return db, None, judge
        except errors.Unavailable:
            raise
        except errors.BoardError as exc:
            _reject(name, exc)
            raise AssertionError("unreachable") from None


@delivery.board_task(sending.ASSESS)
def assess(*args: Any, **kwargs: Any) -> int:
    db, task, judge = _judging("assess", args, kwargs)
    if task is None:
        return 0
    with acting_as(judge.id):
        return _assess(db, task, judge)


def _assess(db, task: models.Task, judge: models.Agent) -> int:  # type: ignore[no-untyped-def]
    value = hooks.assess(task, judge)
    if value:
        try:
            votes.vote(db, task.id, judge.id, value, "assessment")
        except (errors.Forbidden, errors.NotFound) as exc:  # e.g. it claimed the task meanwhile
            log.info("assessment of %s by %s skipped: %s", task.id, judge.codename, exc.message)
            return 0
        worker_metrics.count_vote(judge.team)
    return value


@delivery.board_task(sending.REVIEW)
def review(*args: Any, **kwargs: Any) -> str | None:
    db, task, judge = _judging("review", args, kwargs)
    if task is None or task.status != models.TaskStatus.REVIEW:
        return None  # decided already (quorum reached by others)
    try:
        with acting_as(judge.id):
            _, decided = lifecycle.review(db, task.id, judge.id, hooks.review(task, judge), "review hook")
    except errors.Conflict as exc:  # a repeated request, or decided meanwhile
        log.info("review of %s by %s skipped: %s", task.id, judge.codename, exc.message)
        return None
    return decided
