"""Pydantic models: validated inputs (checked at the edge, before any SQL) and frozen rows.

``parse()`` turns a validation failure into a one-line :class:`errors.InvalidInput` that names the
field and its limit (``RULES``); the limits are in ``constants.py`` and
docs/errors.md. Helpers at the end check plain arguments (ids, attempts, seconds) the same way.
"""

from __future__ import annotations

import enum
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from phoenix_board.board import constants, errors, inputs

M = TypeVar("M", bound=BaseModel)


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    COMPLETE = "complete"
    FAILED = "failed"
    WAITING = "waiting"  # delegated: waits for its children, holding no lease and no agent
    CANCELLED = "cancelled"


TIME_MAX = datetime.fromtimestamp(constants.TIME_MAX_EPOCH_SECONDS, UTC)

# The statuses a task never leaves; every other one is unfinished work (the exporter's
# phoenix_tasks_unfinished, which TaskBacklogGrowing reads). Derived here, once, so a new status
# is counted without editing a list elsewhere.
FINISHED_STATUSES = frozenset({TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.CANCELLED})
UNFINISHED_STATUSES = tuple(s for s in TaskStatus if s not in FINISHED_STATUSES)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-12-01T12:00:00Z")
    # 9999-12-31T23:59:59-14:00 is year 10000 in UTC: stored, it could never be read back
    if value is not None and value >= TIME_MAX:
        raise ValueError(f"must be before {TIME_MAX:%Y-%m-%dT%H:%M:%SZ}")
    return value


def _real(value: float) -> float:
    # the column is a 4-byte real: 1e-50 would make PostgreSQL raise "underflow", so store what a
    # real can hold (0.0 here) rather than refuse a number inside the allowed range
    return struct.unpack("f", struct.pack("f", value))[0]


# Strict: a number or a text must arrive as one; "5" is not a priority and True is not a vote.
Text = Annotated[str, Strict(), AfterValidator(inputs.text)]
Json = Annotated[Any, AfterValidator(inputs.json_document)]
AwareDatetime = Annotated[datetime | None, AfterValidator(_aware)]
Whole = Annotated[int, Strict()]
Number = Annotated[float, Strict(), AfterValidator(_real)]
NAME_PATTERN = rf"^[a-z][a-z0-9_]{{0,{constants.NAME_MAX - 1}}}$"  # a team's (teams_name_format in SQL)
Name = Annotated[str, Strict(), Field(pattern=NAME_PATTERN)]
CATEGORY_PATTERN = rf"^[a-z][a-z0-9_.-]{{0,{constants.NAME_MAX - 1}}}$"
Category = Annotated[str, Strict(), Field(pattern=CATEGORY_PATTERN)]
CODENAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.:@-]{{0,{constants.CODENAME_MAX - 1}}}$"
Codename = Annotated[str, Strict(), Field(pattern=CODENAME_PATTERN)]
CODENAME_RULE = f"must be 1-{constants.CODENAME_MAX} letters, digits or _.:@- and start with a letter or digit"
NAME_RULE = f"must be 1-{constants.NAME_MAX} lowercase letters, digits or _ and start with a letter"
CATEGORY_RULE = f"must be 1-{constants.NAME_MAX} lowercase letters, digits or _.- and start with a letter"

# One line per field, naming the limit: what describe() says when a field's constraint fails.
RULES = {
    "title": f"title must be 1-{constants.TITLE_MAX} characters",
    "team": f"team {NAME_RULE}",
    "description": f"description must be at most {constants.DESCRIPTION_MAX} characters",
    "category": f"category {CATEGORY_RULE}",
    "payload": f"payload must be a JSON object of at most {constants.PAYLOAD_MAX_BYTES} bytes",
    "output": f"output must be JSON of at most {constants.PAYLOAD_MAX_BYTES} bytes",
    "priority": f"priority must be a whole number from {constants.PRIORITY_MIN} to {constants.PRIORITY_MAX}",
    "created_by": "created_by must be an agent id (a UUID)",
    "dopamine_reward": f"dopamine_reward must be a number from 0 to {constants.DOPAMINE_REWARD_MAX:g}",
    "max_attempts": f"max_attempts must be a whole number from 1 to {constants.MAX_ATTEMPTS_MAX}",
    "review_quorum": f"review_quorum must be a whole number from 0 to {constants.REVIEW_QUORUM_MAX}",
    "depends_on": f"depends_on must be a list of at most {constants.DEPENDS_ON_MAX} task ids (UUIDs)",
    "deadline": "deadline must be a time with a zone before 9999-01-01T00:00:00Z, e.g. 2026-12-01T12:00:00Z",
    "fibonacci_size": f"fibonacci_size must be one of {', '.join(map(str, constants.FIBONACCI_SIZES))}",
    "idempotency_key": f"idempotency_key must be 1-{constants.IDEMPOTENCY_KEY_MAX} characters",
    "codename": f"codename {CODENAME_RULE}",
    "role": f"role must be 1-{constants.ROLE_MAX} characters",
    "specialization": (f"specialization must be a list of at most {constants.SPECIALIZATIONS_MAX} names "
                       f"of 1-{constants.ROLE_MAX} characters"),
    "quality": "quality must be a number from 0 to 1",
    "value": "value must be -1, 0 (retract) or +1",
    "reason": f"reason must be 1-{constants.REASON_MAX} characters",
    "content": f"content must be 1-{constants.COMMENT_MAX} characters",
    "parent": "parent must be a comment id (a UUID)",
    "task": "task must be a task id (a UUID)",
    "agent": f"agent must be a codename or an agent id (1-{constants.CODENAME_MAX} characters)",
    "tasks": f"tasks must be a list of 1-{constants.BATCH_MAX} task objects",
    "needs_person": "needs_person must be true or false",
}


def _fibonacci_size(value: int) -> int:
    if value not in constants.FIBONACCI_SIZES:
        raise ValueError(RULES["fibonacci_size"])
    return value


def _json_object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("payload must be a JSON object")
    return value


FibonacciSize = Annotated[Whole, AfterValidator(_fibonacci_size)]
Payload = Annotated[Json, AfterValidator(_json_object)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TaskSubmit(Input):
    title: Annotated[Text, Field(min_length=1, max_length=constants.TITLE_MAX)]
    team: Name
    description: Annotated[Text, Field(max_length=constants.DESCRIPTION_MAX)] = ""
    category: Category = "general"
    payload: Payload = Field(default_factory=dict)
    priority: Annotated[Whole, Field(ge=constants.PRIORITY_MIN, le=constants.PRIORITY_MAX)] = 5
    created_by: UUID | None = None
    dopamine_reward: Annotated[Number, Field(ge=0, le=constants.DOPAMINE_REWARD_MAX)] = 1.0
    max_attempts: Annotated[Whole, Field(ge=1, le=constants.MAX_ATTEMPTS_MAX)] = constants.DEFAULT_MAX_ATTEMPTS
    review_quorum: Annotated[Whole, Field(ge=0, le=constants.REVIEW_QUORUM_MAX)] = 0
    depends_on: Annotated[list[UUID], Field(max_length=constants.DEPENDS_ON_MAX)] = Field(default_factory=list)
    deadline: AwareDatetime = None
    fibonacci_size: FibonacciSize = 1
    idempotency_key: Annotated[Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)] | None = None
    # asks for a person's verdict: the review quorum needs a member's (docs/concepts/review.md#members)
    needs_person: Annotated[bool, Strict()] = False
    # flow control (docs/concepts/flow-control.md): not claimable before this time; at most
    # concurrency_limit tasks with this key in flight at once (a key alone: a limit of 1)
    not_before: AwareDatetime = None
    concurrency_key: Annotated[Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)] | None = None
    concurrency_limit: Annotated[Whole, Field(ge=1, le=constants.CONCURRENCY_LIMIT_MAX)] | None = None

    @model_validator(mode="after")
    def _concurrency_pair(self) -> TaskSubmit:
        if self.concurrency_limit is not None and self.concurrency_key is None:
            raise ValueError("concurrency_limit needs a concurrency_key")
        if self.concurrency_key is not None and self.concurrency_limit is None:
            object.__setattr__(self, "concurrency_limit", 1)
        return self

    @field_validator("depends_on")
    @classmethod
    def _distinct(cls, value: list[UUID]) -> list[UUID]:
        # a repeated dependency is a caller's mistake; counting it twice would skew pending_deps
        seen = set()
        for dep in value:
            if dep in seen:
                raise ValueError(f"depends_on names task {dep} twice")
            seen.add(dep)
        return value


class RunKey(Input):
    """A manual schedule run's idempotency key (board/schedules.py run_now), checked as a task's is."""

    idempotency_key: Annotated[Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)]


class ChildSpec(Input):
    """One child of a delegation (docs/concepts/delegation.md): a task in its parent's team; fields left
    out are inherited from the parent (category, priority, max attempts, reward, deadline)."""

    title: Annotated[Text, Field(min_length=1, max_length=constants.TITLE_MAX)]
    key: Annotated[Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)] | None = None
    description: Annotated[Text, Field(max_length=constants.DESCRIPTION_MAX)] | None = None
    category: Category | None = None
    payload: Payload = Field(default_factory=dict)
    priority: Annotated[Whole, Field(ge=constants.PRIORITY_MIN, le=constants.PRIORITY_MAX)] | None = None
    max_attempts: Annotated[Whole, Field(ge=1, le=constants.MAX_ATTEMPTS_MAX)] | None = None
    review_quorum: Annotated[Whole, Field(ge=0, le=constants.REVIEW_QUORUM_MAX)] | None = None
    fibonacci_size: FibonacciSize | None = None


class AgentRegister(Input):
    codename: Codename
    team: Name
    role: Annotated[Text, Field(min_length=1, max_length=constants.ROLE_MAX)] = "worker"
    specialization: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=constants.ROLE_MAX)]],
        Field(max_length=constants.SPECIALIZATIONS_MAX),
    ] = Field(default_factory=list)


class Result(Input):
    output: Json = Field(default_factory=dict)
    quality: Annotated[Number, Field(ge=0, le=1)] | None = None


class Vote(Input):
    value: Annotated[Whole, Field(ge=-1, le=1)]
    reason: Annotated[Text, Field(max_length=constants.REASON_MAX)] | None = None


class Comment(Input):
    content: Annotated[Text, Field(min_length=1, max_length=constants.COMMENT_MAX)]
    parent: UUID | None = None
    # the author's own key: a retry with it posts once (sql/functions/28_comments.sql)
    idempotency_key: Annotated[Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)] | None = None


class Reason(Input):
    reason: Annotated[Text, Field(min_length=1, max_length=constants.REASON_MAX)]


def parse(model: type[M], data: Any) -> M:
    """Validates ``data`` into ``model``; a failure becomes one line naming the field and its limit."""
    try:
        if isinstance(data, model):
            return data
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.InvalidInput(describe(exc)) from None
    except (TypeError, ValueError, RecursionError) as exc:  # raised by a hostile object, not a field check
        raise errors.InvalidInput(f"invalid {model.__name__} input ({type(exc).__name__})") from None


def describe(exc: ValidationError) -> str:
    found = exc.errors(include_url=False, include_input=False)
    parts: list[str] = []
    for err in found:
        part = _one(err)
        if part not in parts:
            parts.append(part)
    more = len(parts) - 3
    return "; ".join(parts[:3]) + (f" (and {more} more)" if more > 0 else "")


def _one(err: Any) -> str:
    loc = err["loc"]
    field = str(loc[0]) if loc else ""
    if not loc:  # the input as a whole
        if err["type"] == "value_error":  # a rule across fields (TaskSubmit's concurrency pair)
            return str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        if err["type"] in {"model_type", "model_attributes_type", "dict_type"}:
            return "expected an object with named fields"
        if err["type"] == "string_unicode":  # a field name pydantic cannot read
            return "field names must be valid Unicode"
        return f"input: {err['msg']}"
    if err["type"] == "extra_forbidden":
        return f"unknown field {inputs.shown(loc[-1])}"
    if err["type"] == "missing":
        return f"{field} is required"
    if err["type"] == "value_error":
        reason = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        return reason if reason.startswith(field) else f"{field} {reason}"
    if field in RULES:
        return RULES[field]
    where = ".".join(str(p) for p in loc)
    return f"{where}: {err['msg']}"


def uuid_arg(value: Any, what: str) -> UUID:
    """A UUID from user input, or InvalidInput naming what it should have been."""
    if isinstance(value, UUID):
        return value
    try:
        if isinstance(value, str):
            return UUID(value)
    except ValueError:
        pass
    raise errors.InvalidInput(f"{what} {inputs.shown(value)} is not a valid id (expected a UUID)")


def _named(value: Any, pattern: re.Pattern[str], what: str, rule: str) -> str:
    """A name from user input that must match ``pattern``, or InvalidInput saying ``rule`` (before
    it reaches SQL, where a NUL byte would be the driver's error rather than the rule)."""
    if isinstance(value, str) and pattern.fullmatch(value):  # not match: "$" would let a final newline in
        return value
    raise errors.InvalidInput(f"{what} {inputs.shown(value)} {rule}")


_NAME = re.compile(NAME_PATTERN)
_CATEGORY = re.compile(CATEGORY_PATTERN)


def team_arg(value: Any, what: str = "team") -> str:
    """A team's name from user input, or InvalidInput saying the rule."""
    return _named(value, _NAME, what, NAME_RULE)


def category_arg(value: Any, what: str = "category") -> str:
    """A category's name from user input, or InvalidInput saying the rule."""
    return _named(value, _CATEGORY, what, CATEGORY_RULE)


def whole_arg(value: Any, what: str, low: int, high: int) -> int:
    """A whole number in [low, high] from user input (not a bool, a float or a numeric string)."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise errors.InvalidInput(f"{what} must be a whole number from {low} to {high}, not {inputs.shown(value)}")


def seconds_arg(value: Any, what: str, high: float) -> float:
    """A finite number of seconds in (0, high]."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= high:
        return float(value)
    raise errors.InvalidInput(f"{what} must be a number of seconds above 0 and at most {high:g}, not {inputs.shown(value)}")


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_row(cls: type[M], row: dict[str, Any]) -> M:
        return cls.model_validate(row)


class Task(Row):
    id: UUID
    title: str
    description: str
    category: str
    payload: dict[str, Any]
    priority: int
    team: str
    created_by: UUID | None
    assigned_to: UUID | None
    upvotes: int
    downvotes: int
    score: int
    comment_count: int
    hot_score: float
    active_score: float
    controversy: float
    claim_key: datetime
    dopamine_reward: float
    status: TaskStatus
    attempt: int
    max_attempts: int
    attempts_before: int = 0  # attempts made before the latest retry: max_attempts counts from here
    available_at: datetime
    lease_expires_at: datetime | None
    claimed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    review_quorum: int
    depends_on: list[UUID]
    # the tasks that depend on this one (phoenix.task_dependencies): read by lifecycle.get (show);
    # None on rows from other calls, which do not load them
    blocks: list[UUID] | None = None
    pending_deps: int
    output: Any | None
    quality_score: float | None
    last_error: str | None
    deadline: datetime | None
    fibonacci_size: int
    idempotency_key: str | None
    created_at: datetime
    # delegation (docs/concepts/delegation.md)
    parent_id: UUID | None = None
    root_id: UUID | None = None
    depth: int = 0
    child_key: str | None = None
    delegated_by: UUID | None = None
    join_k: int | None = None
    # flow control (docs/concepts/flow-control.md)
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    on_child_failure: str | None = None
    children_total: int = 0
    children_done: int = 0
    children_failed: int = 0
    escalated_to: UUID | None = None
    # when the current attempt went to review (docs/concepts/review.md)
    review_since: datetime | None = None
    # its quorum needs a member's verdict (docs/concepts/review.md#members)
    needs_person: bool = False


class Hormones(Row):
    dopamine: float
    oxytocin: float
    adrenaline: float
    cortisol: float


class Agent(Row):
    id: UUID
    codename: str
    team: str
    role: str
    specialization: list[str]
    hormone_levels: Hormones
    hormones_at: datetime
    trust_coefficient: float
    trust_r: float
    trust_s: float
    tasks_completed: int
    tasks_failed: int
    success_rate: float | None
    average_response_time: timedelta | None
    fibonacci_level: int
    current_task: UUID | None
    idle_since: datetime | None
    last_heartbeat: datetime
    created_at: datetime
    decommissioned_at: datetime | None
    # 'agent', or 'member': a person who takes part and never claims (board/members.py)
    kind: str = "agent"
