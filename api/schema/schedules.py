"""Schedules over GraphQL (docs/concepts/schedules.md): operator and reader tokens list them,
operator tokens change them. Each field is one call of board/schedules.py."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api.schema.context import of
from phoenix_board.api.schema.mutations import CreateTaskInput
from phoenix_board.board import schedules

NameArg = Annotated[str, strawberry.argument(description="The schedule's name.")]


@strawberry.type(description="A recurring task: a cron expression in a time zone and the task it submits, "
                             "exactly once per slot.")
class Schedule:
    name: str
    cron: str
    timezone: str
    catch_up: str = strawberry.field(description="After downtime: latest, all (at most 100) or none.")
    team: str
    title: str
    paused: bool
    paused_at: datetime | None
    next_fire: datetime | None = strawberry.field(description="The next slot; null while paused.")
    last_slot: datetime | None = strawberry.field(description="The latest slot the beat fired.")
    last_fired_at: datetime | None
    last_task_id: strawberry.ID | None
    last_error: str | None = strawberry.field(description="The board's refusal of the last failed submission.")
    missed: int = strawberry.field(description="Slots the catch-up policy passed over.")
    created_at: datetime
    task: JSON = strawberry.field(description="The task's fields, as submitted at every slot.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Schedule:
        return cls(name=row["name"], cron=row["cron"], timezone=row["timezone"], catch_up=row["catch_up"],
                   team=row["team"], title=row["title"], paused=row["paused"], paused_at=row["paused_at"],
                   next_fire=row["next_fire"], last_slot=row["last_slot"], last_fired_at=row["last_fired_at"],
                   last_task_id=None if row["last_task_id"] is None else strawberry.ID(str(row["last_task_id"])),
                   last_error=row["last_error"], missed=row["missed"], created_at=row["created_at"],
                   task=row["task"])


@strawberry.type
class ScheduleRun:
    schedule: str
    slot: datetime
    fired: bool
    task_id: strawberry.ID | None


@strawberry.type
class ScheduleQuery:
    @strawberry.field(description="Every schedule, by name. Operator and reader tokens.")
    async def schedules(self, info: strawberry.Info) -> list[Schedule]:
        ctx = of(info)
        ctx.principal.require("operator", "reader")
        return [Schedule.of(r) for r in await ctx.pools.run(schedules.list_all, write=False)]

    @strawberry.field(description="One schedule by name. Operator and reader tokens.")
    async def schedule(self, info: strawberry.Info, name: NameArg) -> Schedule:
        ctx = of(info)
        ctx.principal.require("operator", "reader")
        return Schedule.of(await ctx.pools.run(schedules.get, name, write=False))


@strawberry.type
class ScheduleMutation:
    @strawberry.mutation(description="Adds a schedule; its first slot is the first after now. The task is "
                                     "validated as createTask's, less idempotencyKey and deadline. Operator tokens.")
    async def add_schedule(self, info: strawberry.Info, name: NameArg, cron: str, task: CreateTaskInput,
                           timezone: str = "UTC", catch_up: str = "latest") -> Schedule:
        ctx = of(info)
        ctx.principal.require("operator")
        data = {k: v for k, v in vars(task).items() if v is not strawberry.UNSET and v is not None}
        if "depends_on" in data:
            data["depends_on"] = [str(x) for x in data["depends_on"]]
        if "created_by" in data:
            data["created_by"] = str((await ctx.acting_agent(data["created_by"]))[0])
        return Schedule.of(await ctx.write(schedules.add, name, cron, data, timezone, catch_up))

    @strawberry.mutation(description="Stops a schedule firing; slots passing meanwhile are skipped. Operator tokens.")
    async def pause_schedule(self, info: strawberry.Info, name: NameArg) -> Schedule:
        ctx = of(info)
        ctx.principal.require("operator")
        return Schedule.of(await ctx.write(schedules.pause, name))

    @strawberry.mutation(description="Fires a schedule again from its first slot after now. Operator tokens.")
    async def resume_schedule(self, info: strawberry.Info, name: NameArg) -> Schedule:
        ctx = of(info)
        ctx.principal.require("operator")
        return Schedule.of(await ctx.write(schedules.resume, name))

    @strawberry.mutation(description="Submits the schedule's task once, now; the next slot still fires. With "
                                     "idempotencyKey, a retry submits nothing more: it returns the first run "
                                     "(fired false). Operator tokens.")
    async def run_schedule_now(self, info: strawberry.Info, name: NameArg,
                               idempotency_key: str | None = None) -> ScheduleRun:
        ctx = of(info)
        ctx.principal.require("operator")
        out = await ctx.write(functools.partial(schedules.run_now, key=idempotency_key), name)
        return ScheduleRun(schedule=out["schedule"], slot=out["slot"], fired=out["fired"],
                           task_id=None if out["task_id"] is None else strawberry.ID(str(out["task_id"])))

    @strawberry.mutation(description="Deletes a schedule; the tasks it submitted stay. Operator tokens.")
    async def remove_schedule(self, info: strawberry.Info, name: NameArg) -> bool:
        ctx = of(info)
        ctx.principal.require("operator")
        await ctx.write(schedules.remove, name)
        return True
