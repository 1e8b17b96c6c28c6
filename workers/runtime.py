"""The agent loop: claim, run the handler, submit the result or the failure; repeat.

A woken agent keeps claiming the next task in the claim order until nothing is claimable for it
or its time budget is spent, so one wake-up drains many tasks and the board is not limited by one
broker round trip per task. Before it claims a task, and whenever it is about to stop, it takes the
reviews waiting for it (docs/concepts/review.md): a review is a place on the board claimed with a lease, so
a verdict that is never given (the agent died) is asked of another agent, with no message to lose. While a handler runs, a renewer thread extends the lease every third
of it; if a renewal is refused (the claim was lost), the handler's context says so and its late
result is refused by the board's fencing, never applied twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from phoenix_board.board import agents, delegation, errors, lifecycle, models
from phoenix_board.board.db import Database, acting_as
from phoenix_board.workers import coroutines, handlers, hooks

log = logging.getLogger(__name__)
T = TypeVar("T")
# claimed tasks that cannot be loaded, failed in a row before the agent stops claiming for this wake-up
UNLOADABLE_PER_CLAIM = 20


class Renewer:
    """Keeps the leases of the claims in hand, from one background thread: a prefork agent's
    own claim, acting for its agent, or those of all the agents of a thread pool
    (workers/thread_agents.py), all in one statement a round under the pool's ``holder`` token
    (lifecycle.renew_held). One thread per process, not one per agent."""

    def __init__(self, db: Database, lease_seconds: float, holder: UUID | None = None) -> None:
        self.db = db
        self.lease = lease_seconds
        self.holder = holder
        self._claims: dict[UUID, tuple[UUID, int, threading.Event]] = {}  # agent -> its claim
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="phoenix-lease-renewer", daemon=True)
        self._thread.start()

    def hold(self, agent: UUID, task: UUID, attempt: int, lost: threading.Event) -> None:
        with self._lock:
            self._claims[agent] = (task, attempt, lost)

    def release(self, agent: UUID, task: UUID, attempt: int) -> None:
        """Stops renewing this claim (and only this one: the agent may hold another by now)."""
        with self._lock:
            claim = self._claims.get(agent)
            if claim is not None and claim[:2] == (task, attempt):
                del self._claims[agent]

    def close(self) -> None:
        self._stop.set()

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.lease / 3):
            with self._lock:
                claims = list(self._claims.items())
            if self.holder is not None:
                self._renew_held(claims)
                continue
            for agent, (task, attempt, lost) in claims:
                if self._stop.is_set():
                    return
                self._renew(agent, task, attempt, lost)

    def _renew_held(self, claims: list[tuple[UUID, tuple[UUID, int, threading.Event]]]) -> None:
        """Every claim of the pool in one statement; each one refused is lost, as in _renew."""
        if not claims:
            return
        assert self.holder is not None
        try:
            refused = lifecycle.renew_held(self.db, self.holder, [(task, agent, attempt) for agent, (task, attempt, _) in claims],
                                           self.lease)
        except errors.BoardError as exc:  # the database is away; the leases may still hold
            log.warning("could not renew the leases of %d claims: %s", len(claims), exc.message)
            return
        events = {(agent, task, attempt): lost for agent, (task, attempt, lost) in claims}
        for task, agent, attempt, why in refused:
            self._lost(agent, task, attempt, events[(agent, task, attempt)], why)

    def _lost(self, agent: UUID, task: UUID, attempt: int, lost: threading.Event, why: str) -> None:
        """A refused renewal: the work is lost, unless the agent let the claim go meanwhile (its
        result or failure came between the read of the claims in hand and the renewal)."""
        with self._lock:
            still_held = self._claims.get(agent, (None, None, None))[:2] == (task, attempt)
            if still_held:
                del self._claims[agent]
        if still_held:
            log.warning("lost the claim on task %s: %s", task, why)
            lost.set()

    def _renew(self, agent: UUID, task: UUID, attempt: int, lost: threading.Event) -> None:
        try:
            with acting_as(agent):
                lifecycle.renew(self.db, task, agent, attempt, self.lease)
        except errors.Conflict as exc:  # stale or moved on: the work is lost
            self._lost(agent, task, attempt, lost, exc.message)
        except errors.BoardError as exc:  # the database is away; the lease may still hold
            log.warning("could not renew the lease on task %s: %s", task, exc.message)


class AgentLoop:
    """The loop an agent's pool process runs when woken: claim, work, give results and reviews
    (its identity on the board is the row, ``models.Agent``; its lease renewer is ``Renewer``)."""

    def __init__(self, db: Database, agent: models.Agent, lease_seconds: float,
                 on_review: Callable[[models.Task], None] | None = None,
                 stopping: Callable[[], bool] = lambda: False,
                 on_claim: Callable[[models.Task], None] | None = None,
                 on_delegate: Callable[[models.Task], None] | None = None,
                 on_decided: Callable[[models.Task], None] | None = None,
                 renewer: Renewer | None = None) -> None:
        self.db = db
        self.id = agent.id
        self.codename = agent.codename
        self.team = agent.team
        self.lease = lease_seconds
        self.on_review = on_review
        self.stopping = stopping
        self.on_claim = on_claim
        self.on_delegate = on_delegate
        self.on_decided = on_decided
        # a thread pool's agents share their process's renewer; a prefork agent has its own
        self._owns_renewer = renewer is None
        self.renewer = renewer or Renewer(db, lease_seconds)

    def close(self) -> None:
        if self._owns_renewer:
            self.renewer.close()

    def work(self, budget_seconds: float) -> int:
        """Gives the reviews waiting for this agent, then claims and works tasks until none is
        claimable or the budget is spent, then gives the reviews that arrived meanwhile; returns
        how many tasks and reviews it did.
        In the steady state each task costs one call: its result and the next claim together."""
        end = time.monotonic() + budget_seconds
        done = 0
        with acting_as(self.id):
            done += self.review_waiting()
            task = None if self.stopping() else self._claim()
            while task is not None:
                if self.on_claim is not None:
                    self.on_claim(task)
                task = self._run_one(task, claim_next=time.monotonic() < end and not self.stopping())
                done += 1
            # reviews that arrived while it worked (its last call claimed nothing)
            done += self.review_waiting()
        return done

    def review_waiting(self) -> int:
        """Claims and gives the reviews waiting for this agent, oldest first; returns how many.
        A refused verdict (decided meanwhile) is dropped; a hook that fails leaves the place to
        lapse at the end of its lease, when another agent is asked."""
        given = 0
        judge: models.Agent | None = None
        with acting_as(self.id):
            while not self.stopping():
                try:
                    task = lifecycle.review_claim(self.db, self.id, self.lease)
                except (errors.Unavailable, errors.Conflict):
                    raise
                except Exception as exc:
                    # the place is taken but its task cannot be loaded: no verdict can be given, so
                    # it lapses with its lease and the task ends at REVIEW_EXPIRE_SECONDS; the agent
                    # goes on to its own work instead of failing the whole wake-up here every time
                    log.warning("a review this agent claimed cannot be loaded, skipped: %s: %s",
                                type(exc.__cause__ or exc).__name__, errors.one_line(str(exc.__cause__ or exc))[:200])
                    return given
                if task is None:
                    return given
                judge = judge or agents.get(self.db, self.id)
                try:
                    verdict = hooks.review(task, judge)
                except Exception as exc:  # a user's hook: its failure must not stop the agent
                    log.warning("review hook failed on task %s: %s", task.id, errors.one_line(repr(exc))[:200])
                    continue
                try:
                    after, decided = lifecycle.review(self.db, task.id, self.id, verdict, "review hook")
                except errors.Unavailable:
                    raise  # the place lapses with its lease; the message that woke it is retried
                except errors.BoardError as exc:  # decided or moved on meanwhile, or a bad verdict
                    log.info("review of %s by %s dropped: %s", task.id, self.codename, exc.message)
                    continue
                given += 1
                if decided and self.on_decided is not None:
                    self.on_decided(after)
        return given

    def run(self, task: models.Task, claim_next: bool = False) -> models.Task | None:
        """Runs one claimed, started task to its result or failure; returns the next task when
        claim_next and one was claimable."""
        with acting_as(self.id):
            return self._run_one(task, claim_next)

    def _run_one(self, task: models.Task, claim_next: bool) -> models.Task | None:
        fn = handlers.lookup(task.category)
        context = handlers.Context(agent_id=self.id, codename=self.codename, team=self.team,
                                   escalated=task.escalated_to == self.id)
        try:
            if fn is None:
                log.warning("no handler for category %r: task %s fails at once", task.category, task.id)
                self._finish(lambda: lifecycle.fail_unhandled(self.db, task.id, self.id, task.attempt))
                return self._next(claim_next)
            # held until the attempt has ended: the lease must outlast retries of its last call
            self.renewer.hold(self.id, task.id, task.attempt, context.lost)
            try:
                after, nxt = self._attempt(fn, task, context, claim_next)
            finally:
                self.renewer.release(self.id, task.id, task.attempt)
        except errors.StaleClaim as exc:
            log.warning("dropped stale work on task %s: %s", task.id, exc.message)
            return self._next(claim_next)
        if after is None:  # the attempt failed
            return self._next(claim_next)
        if after.status == models.TaskStatus.REVIEW and self.on_review is not None:
            self.on_review(after)
        return nxt

    def _attempt(self, fn: handlers.Handler, task: models.Task, context: handlers.Context,
                 claim_next: bool) -> tuple[models.Task | None, models.Task | None]:
        """Runs the handler and ends the attempt. -> (the task after its result, the next task),
        or (None, None) when the attempt failed."""
        try:
            if task.children_total:  # back from a join: the handler reads its children's outcomes
                context.children = delegation.children(self.db, task.id, self.id)
            outcome = handlers.as_result(coroutines.resolve(fn(task, context)))  # async def: workers/coroutines.py
        except Exception as exc:  # the handler failed: the board retries with backoff
            log.info("handler %s failed on task %s: %s", task.category, task.id, exc)
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            self._finish(lambda: lifecycle.fail(self.db, task.id, self.id, task.attempt, reason))
            return None, None
        try:
            if isinstance(outcome, handlers.Delegate):
                # the attempt ends with the split; the agent is free and claims on (maybe a child)
                parent, _, _ = self._finish(lambda: delegation.delegate(
                    self.db, task.id, self.id, task.attempt, outcome.children, outcome.join, outcome.on_failure))
                if self.on_delegate is not None:
                    self.on_delegate(parent)
                return parent, self._next(claim_next)
            if claim_next:
                try:
                    return self._finish(lambda: lifecycle.result_claim_next(
                        self.db, task.id, self.id, task.attempt, outcome.output, outcome.quality, self.lease))
                except (errors.Unavailable, errors.Conflict):
                    raise
                except Exception as exc:
                    # the result may have committed with a next claim whose row cannot be loaded
                    if not self._fail_unloadable(exc, ended=(task.id, task.attempt)):
                        raise
                return self._reread(task), self._claim()
            return self._finish(lambda: lifecycle.result(
                self.db, task.id, self.id, task.attempt, outcome.output, outcome.quality)), None
        except errors.InvalidInput as exc:  # e.g. output too large: a failed attempt, not a stuck claim
            reason = f"invalid {'delegation' if isinstance(outcome, handlers.Delegate) else 'result'}: {exc.message}"
            self._finish(lambda: lifecycle.fail(self.db, task.id, self.id, task.attempt, reason))
            return None, None

    def _next(self, claim_next: bool) -> models.Task | None:
        return self._claim() if claim_next else None

    def _finish(self, call: Callable[[], T]) -> T:
        """Runs the call that ends an attempt (its result or its failure). While the database is
        away it retries, for as long as the lease may still hold: the work is done, and giving up
        would strand the claim until its lease ran out and then run the work again. A retry whose
        first try had committed (only the reply was lost) is refused as stale and dropped."""
        end = time.monotonic() + self.lease
        delay = 0.1
        while True:
            try:
                return call()
            except errors.Unavailable as exc:
                if time.monotonic() + delay > end:
                    raise
                log.warning("could not end the attempt, retrying in %.1f s: %s", delay, exc.message)
                time.sleep(delay)
                delay = min(2.0, delay * 2)

    def _claim(self) -> models.Task | None:
        """The next task claimed and started, loaded; None when nothing is claimable. A claimed task
        this agent cannot load fails for good with the reason (``_fail_unloadable``) and the agent
        claims on, at most UNLOADABLE_PER_CLAIM times in a row (then the next wake-up goes on)."""
        for _ in range(UNLOADABLE_PER_CLAIM):
            try:
                return self._claim_once()
            except (errors.Unavailable, errors.Conflict):
                raise  # the database is away (the claim may not exist), or the claim was refused
            except Exception as exc:
                if not self._fail_unloadable(exc):
                    raise
        return None

    def _fail_unloadable(self, exc: BaseException, ended: tuple[UUID, int] | None = None) -> bool:
        """After a call that claims raised: if this agent now holds a claim (other than ``ended``,
        the attempt the call was ending), the claim committed and only loading its row failed (a
        value the client cannot decode, a document too deep, a row the model refuses). Every
        attempt would meet the same row, so it fails for good with the reason, where holding it
        to the end of its lease would only have it claimed again (docs/errors.md).
        -> True when it did so; False when no such claim is held (the error is the call's own)."""
        held = lifecycle.claim_held(self.db, self.id)
        if held is None or held == ended:
            return False
        task_id, attempt = held
        # the driver's own error says what could not be loaded; the board's wrapper would not
        cause = exc.__cause__ if isinstance(exc, errors.BoardError) and exc.__cause__ is not None else exc
        reason = f"{type(cause).__name__}: {errors.one_line(str(cause))}"
        log.warning("task %s (attempt %s) cannot be loaded by this agent, failed for good: %s",
                    task_id, attempt, reason[:300])
        try:
            self._finish(lambda: lifecycle.fail_unloadable(self.db, task_id, self.id, attempt, reason))
        except errors.Conflict:
            pass  # it moved on meanwhile (lease expired)
        return True

    def _reread(self, task: models.Task) -> models.Task:
        """The task as it is now, after its result; as it was if it cannot be read."""
        try:
            return lifecycle.get(self.db, task.id)
        except errors.BoardError:
            return task

    def _claim_once(self) -> models.Task | None:
        try:
            return lifecycle.claim_start(self.db, self.id, self.lease)
        except errors.Conflict as exc:
            if type(exc) is not errors.Conflict:  # only "this agent still holds a claim" is ours to mend
                raise
            # The board says this agent still holds a claim, but this process has no work in hand
            # for it: the reply to the call that claimed it was lost (the database went away
            # mid-call), or ending its attempt failed for longer than the retries. Return it to
            # the board as a failed attempt, as a replaced process does, and claim again. Read
            # as id and attempt only: the row itself may be what could not be loaded.
            held = lifecycle.claim_held(self.db, self.id)
            if held is not None:
                log.warning("returning task %s (attempt %s): this agent held it with no work in hand", *held)
                try:
                    lifecycle.fail(self.db, held[0], self.id, held[1], "claim held with no work in hand")
                except errors.Conflict:
                    pass  # it moved on meanwhile (lease expired)
                except errors.Unavailable:
                    raise
                except Exception as exc:  # returned, but its row could not be loaded: the next claim meets it
                    log.warning("returned task %s, whose row this agent cannot load: %s", held[0],
                                errors.one_line(repr(exc))[:200])
            return lifecycle.claim_start(self.db, self.id, self.lease)
