"""Recurring tasks (docs/concepts/schedules.md): a schedule is a cron expression read in a time
zone, the task it submits, and a catch-up policy; the beat fires it (``tick``).

Exactly once per slot: a slot is a key in the database, ``schedule_runs (schedule, kind, slot)``,
inserted by ``phoenix.schedule_fire`` in the same transaction that submits the slot's task
(sql/functions/62_schedules.sql). Two beats, or a beat restarted in the middle of a slot, either
find the key committed (nothing to do) or rolled back with its task (fire it again). The
schedule's ``next_slot`` is only a cursor: the first slot not yet considered, computed forward
from the cron expression, never moved back.

The cron arithmetic is cronsim's (Debian cron's semantics, DST included); this module decides
which of the due slots fire (``plan``), the SQL function fires each.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from psycopg.types.json import Jsonb

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database, queries

log = logging.getLogger(__name__)

CATCH_UP = ("latest", "all", "none")
_NAME = re.compile(rf"[a-z][a-z0-9_.-]{{0,{constants.SCHEDULE_NAME_MAX - 1}}}")
NAME_RULE = (f"must be 1-{constants.SCHEDULE_NAME_MAX} lowercase letters, digits or _.- and start with a letter")
_SECOND = timedelta(seconds=1)


# --- the cron expression in its time zone ------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    """A cron expression (5 fields, or 6 with seconds first) read in a time zone. Slots are
    instants (aware, UTC); cronsim walks the zone's wall clock, so DST is Debian cron's: a job
    at a fixed time that falls in the skipped hour runs at the first minute after it, one in the
    repeated hour runs once (its first pass); a job that runs more often than hourly follows
    real time (the repeated hour's slots run in both passes, the skipped hour has none)."""

    expr: str
    zone: Any  # a tzinfo: timezone.utc for UTC, else a ZoneInfo

    def _from(self, t: datetime, reverse: bool = False) -> CronSim:
        return CronSim(self.expr, t.astimezone(self.zone), reverse=reverse)

    def slots_from(self, t: datetime) -> Iterator[datetime]:
        """The slots at or after ``t``, in order."""
        base = t.replace(microsecond=0) - (_SECOND if t.microsecond == 0 else timedelta(0))
        for slot in self._from(base):  # cronsim yields the slots strictly after its start
            yield slot.astimezone(UTC)

    def after(self, t: datetime) -> datetime:
        """The first slot strictly after ``t``."""
        return next(self.slots_from(t.replace(microsecond=0) + _SECOND))

    def slots_back_from(self, t: datetime) -> Iterator[datetime]:
        """The slots at or before ``t``, latest first."""
        for slot in self._from(t.replace(microsecond=0) + _SECOND, reverse=True):
            yield slot.astimezone(UTC)


def zone(name: Any) -> Any:
    """The time zone of an IANA name (UTC by default); one line when there is none."""
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise errors.InvalidInput(f"time zone {inputs.shown(name)} is not a name; give an IANA name such as "
                                  f"Europe/Berlin, or UTC")
    if name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise errors.InvalidInput(f"time zone {inputs.shown(name)} not found; give an IANA name such as "
                                  f"Europe/Berlin, or UTC") from None


def cron(expr: Any, timezone_name: Any = "UTC", now: datetime | None = None) -> Cron:
    """A checked cron expression in a checked time zone: one line naming the bad field otherwise."""
    tz = zone(timezone_name)
    if not isinstance(expr, str) or not 1 <= len(expr) <= constants.SCHEDULE_CRON_MAX:
        raise errors.InvalidInput(f"cron must be text of 1-{constants.SCHEDULE_CRON_MAX} characters")
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise errors.InvalidInput(f"cron {inputs.shown(expr)} has {len(fields)} fields; give 5 (minute hour "
                                  f"day-of-month month day-of-week) or 6 (seconds first), e.g. \"*/5 * * * *\"")
    c = Cron(" ".join(fields), tz)
    try:
        c.after(now or datetime.now(UTC))
    except CronSimError as exc:
        raise errors.InvalidInput(f"cron {inputs.shown(expr)}: {str(exc).lower()} field") from None
    except StopIteration:
        raise errors.InvalidInput(f"cron {inputs.shown(expr)} never fires (no slot in the next 50 years)") from None
    return c


def of(row: dict[str, Any]) -> Cron:
    return cron(row["cron"], row["timezone"])


# --- which due slots fire ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    fire: list[datetime]  # in order
    missed: int  # due slots the catch-up policy passes over
    next_slot: datetime  # the first slot after now: the schedule's new cursor


def plan(c: Cron, catch_up: str, next_slot: datetime, now: datetime) -> Plan:
    """The slots to fire at ``now`` for a schedule whose cursor is ``next_slot``.

    A due slot found at most ``SCHEDULE_ON_TIME_SECONDS`` late is on time and always fires (a
    beat that runs fires every slot). Later ones were missed, by downtime or a pause of the beat,
    and the policy says which fire: ``latest`` the latest due slot when none is on time, ``all``
    every one (the latest ``SCHEDULE_CATCH_UP_MAX`` of them), ``none`` none."""
    due: deque[datetime] = deque(maxlen=constants.SCHEDULE_CATCH_UP_MAX)
    count = 0
    following = None
    for slot in c.slots_from(next_slot):
        if slot > now:
            following = slot
            break
        count += 1
        due.append(slot)
        if count >= constants.SCHEDULE_SCAN_MAX:  # a long outage of a frequent schedule: jump to now
            latest: list[datetime] = []
            for back in c.slots_back_from(now):  # the latest due slots, found backwards from now
                if back <= slot or len(latest) == constants.SCHEDULE_CATCH_UP_MAX:
                    break
                latest.append(back)
            if latest:
                due = deque(reversed(latest), maxlen=constants.SCHEDULE_CATCH_UP_MAX)
            following = c.after(now)
            break
    assert following is not None
    on_time = [s for s in due if (now - s).total_seconds() <= constants.SCHEDULE_ON_TIME_SECONDS]
    if catch_up == "all":
        fire = list(due)
    elif catch_up == "latest":
        fire = on_time or list(due)[-1:]
    else:
        fire = on_time
    return Plan(fire, count - len(fire), following)


# --- the Python API ----------------------------------------------------------------------------


def _clock(db: Database) -> datetime:
    return db.one("schedule_clock")["now"]


def task_spec(data: Any) -> models.TaskSubmit:
    """A schedule's task, validated as ``submit`` validates a task, less the fields that cannot
    repeat: the key (each slot's task has its own), and a fixed deadline or not-before time (later
    slots would be past them)."""
    spec = models.parse(models.TaskSubmit, data)
    if spec.idempotency_key is not None:
        raise errors.InvalidInput("a schedule's task takes no idempotency_key: each slot's task gets its own "
                                  "(schedule:<id>:<kind>:<slot>)")
    if spec.deadline is not None:
        raise errors.InvalidInput("a schedule's task takes no deadline: a fixed time would be past for later "
                                  "slots; leave it out")
    if spec.not_before is not None:
        raise errors.InvalidInput("a schedule's task takes no not_before: its slot is when it becomes claimable; "
                                  "leave it out")
    return spec


def add(db: Database, name: Any, cron_expr: Any, task: Any, timezone_name: Any = "UTC", catch_up: Any = "latest",
        now: datetime | None = None) -> dict[str, Any]:
    """A new schedule whose first slot is the first after ``now``; Conflict if the name is taken.
    Everything is checked before anything is written."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise errors.InvalidInput(f"schedule name {inputs.shown(name)} {NAME_RULE}")
    if catch_up not in CATCH_UP:
        raise errors.InvalidInput(f"catch-up {inputs.shown(catch_up)} is not one of {', '.join(CATCH_UP)}")
    c = cron(cron_expr, timezone_name, now)
    spec = task_spec(task)
    now = now or _clock(db)
    row = db.one("schedule_add", schedule=name, cron=c.expr, timezone=timezone_name, catch_up=catch_up,
                 task=Jsonb(spec.model_dump(mode="json")), team=spec.team, now=now, next_slot=c.after(now))
    if row is None:
        raise errors.Conflict(f"schedule {name} exists already; remove it first or choose another name")
    return view(row)


def _named(row: dict[str, Any] | None, name: Any) -> dict[str, Any]:
    if row is None:
        raise errors.NotFound(f"schedule {inputs.shown(name)} not found; `schedules list` names them")
    return row


def get(db: Database, name: str) -> dict[str, Any]:
    return view(_named(db.one("schedule_get", schedule=name), name))


def list_all(db: Database) -> list[dict[str, Any]]:
    return [view(row) for row in db.all("schedules_list")]


def pause(db: Database, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Stops the schedule firing; pausing a paused schedule changes nothing."""
    return view(_named(db.one("schedule_pause", schedule=name, now=now or _clock(db)), name))


def resume(db: Database, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Fires again from the first slot after ``now``: slots that passed while it was paused are
    skipped, not caught up (a pause means "not these"). Resuming a live schedule changes nothing."""
    row = _named(db.one("schedule_get", schedule=name), name)
    now = now or _clock(db)
    return view(_named(db.one("schedule_resume", schedule=name, next_slot=of(row).after(now)), name))


def remove(db: Database, name: str) -> dict[str, Any]:
    """Deletes the schedule and its runs; the tasks it submitted stay on the board."""
    return _named(db.one("schedule_remove", schedule=name), name)


def runs(db: Database, name: str, limit: int = 20) -> list[dict[str, Any]]:
    _named(db.one("schedule_get", schedule=name), name)
    return db.all("schedule_runs_recent", schedule=name, limit=limit)


def run_now(db: Database, name: str, now: datetime | None = None, key: str | None = None) -> dict[str, Any]:
    """Fires the schedule's task once, now, paused or not, as a 'manual' run keyed by this
    instant: the cron slots are untouched, so the next slot still fires. With ``key``, a run asked
    before with the same key is returned (``fired`` false) instead of firing again: a retried
    request submits once. A task the board refuses is recorded on the run and raised."""
    if key is not None:
        key = models.parse(models.RunKey, {"idempotency_key": key}).idempotency_key
    row = _named(db.one("schedule_get", schedule=name), name)
    slot = now or _clock(db)
    fired = db.one("schedule_fire", id=row["id"], kind="manual", slot=slot, now=now, key=key)
    if fired["error"]:
        raise errors.Conflict(f"schedule {name}: the board refused its task: {fired['error']}")
    return {"schedule": name, "slot": fired["run_slot"], "fired": fired["fired"], "task_id": fired["task_id"],
            "team": fired["team"]}


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A schedule as the commands and the API show it."""
    task = row["task"]
    return {"name": row["name"], "cron": row["cron"], "timezone": row["timezone"], "catch_up": row["catch_up"],
            "team": row["team"], "title": task.get("title"), "category": task.get("category"),
            "paused": row["paused_at"] is not None, "paused_at": row["paused_at"],
            "next_fire": None if row["paused_at"] is not None else row["next_slot"],
            "last_slot": row["last_slot"], "last_fired_at": row["last_fired_at"], "last_task_id": row["last_task_id"],
            "last_error": row["last_error"], "last_error_at": row["last_error_at"], "missed": row["missed"],
            "created_at": row["created_at"], "task": task, "id": row["id"]}


# --- the beat's tick -------------------------------------------------------------------------


def tick(db: Database, now: datetime | None = None, wake: Callable[[str], None] | None = None) -> int:
    """Fires every due slot of every live schedule; returns how many tasks it submitted.

    Each schedule is one transaction: its row locked (SKIP LOCKED: a schedule another beat is
    firing is left to it), its slots fired, its cursor moved. A schedule that fails is logged and
    the others still fire; the tick then raises, so the beat records the failure."""
    now = now or _clock(db)
    submitted = 0
    teams: set[str] = set()
    failed: list[str] = []
    q = queries()
    for due in db.all("schedules_due", now=now):
        try:
            with db.transaction() as conn:
                row = conn.execute(q["schedule_lock_due"], {"id": due["id"], "now": now}).fetchone()
                if row is None:
                    continue
                p = plan(of(row), row["catch_up"], row["next_slot"], now)
                last = None
                for slot in p.fire:
                    r = conn.execute(q["schedule_fire"], {"id": row["id"], "kind": "cron", "slot": slot,
                                                          "now": now, "key": None}).fetchone()
                    if r["fired"]:
                        last = slot
                        if r["task_id"] is not None:
                            submitted += 1
                            teams.add(r["team"])
                conn.execute(q["schedule_advance"], {"id": row["id"], "next_slot": p.next_slot, "fired_slot": last,
                                                     "now": now, "missed": p.missed})
        except Exception as exc:  # one broken schedule must not stop the others
            log.exception("schedule %s: firing failed", due["id"])
            failed.append(f"{due['id']}: {exc}")
    before = now - timedelta(seconds=constants.SCHEDULE_RUNS_KEEP_SECONDS)
    if db.one("schedule_runs_prunable", before=before)["found"]:
        db.execute("schedule_runs_prune", before=before, limit=constants.SCHEDULE_RUNS_PRUNE_BATCH)
    if wake is not None:
        for team in sorted(teams):
            wake(team)
    if failed:
        raise errors.BoardError(f"{len(failed)} schedule(s) failed to fire: {failed[0]}")
    return submitted
