"""Pydantic models: validated inputs (checked at the edge, before any SQL) and frozen rows.

``parse()`` turns a validation failure into a one-line :class:`errors.InvalidInput`.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from phoenix_board.board import constants, errors

M = TypeVar("M", bound=BaseModel)


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    COMPLETE = "complete"
    FAILED = "failed"


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here with a clear message instead of a 22021
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _json_limited(value: Any) -> Any:
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError("must be JSON without NaN or infinity") from exc
    except (TypeError, RecursionError) as exc:
        raise ValueError("must be plain JSON (objects, arrays, strings, numbers, booleans, null)") from exc
    if "\\u0000" in text:
        raise ValueError("must not contain NUL characters")
    if len(text.encode()) > constants.PAYLOAD_MAX_BYTES:
        raise ValueError(f"must be at most {constants.PAYLOAD_MAX_BYTES} bytes as JSON")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-12-01T12:00:00Z")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Json = Annotated[Any, AfterValidator(_json_limited)]
AwareDatetime = Annotated[datetime | None, AfterValidator(_aware)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Codename = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TaskSubmit(Input):
    title: Annotated[Text, Field(min_length=1, max_length=constants.TITLE_MAX)]
    team: Name
    description: Annotated[Text, Field(max_length=constants.DESCRIPTION_MAX)] = ""
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")] = "general"
    payload: Json = Field(default_factory=dict)
    priority: Annotated[int, Field(ge=1, le=10)] = 5
    created_by: UUID | None = None
    dopamine_reward: Annotated[float, Field(ge=0, le=10)] = 1.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = constants.DEFAULT_MAX_ATTEMPTS
    review_quorum: Annotated[int, Field(ge=0, le=constants.REVIEW_QUORUM_MAX)] = 0
    depends_on: Annotated[list[UUID], Field(max_length=constants.DEPENDS_ON_MAX)] = Field(default_factory=list)
    deadline: AwareDatetime = None
    fibonacci_size: int = 1
    idempotency_key: Annotated[Text, Field(min_length=1, max_length=200)] | None = None

    @field_validator("fibonacci_size")
    @classmethod
    def _fibonacci(cls, value: int) -> int:
        if value not in constants.FIBONACCI_SIZES:
            raise ValueError(f"must be one of {', '.join(map(str, constants.FIBONACCI_SIZES))}")
        return value

    @field_validator("payload")
    @classmethod
    def _payload_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        return value


class AgentRegister(Input):
    codename: Codename
    team: Name
    role: Annotated[Text, Field(min_length=1, max_length=100)] = "worker"
    specialization: Annotated[list[Annotated[Text, Field(min_length=1, max_length=100)]], Field(max_length=20)] = Field(
        default_factory=list
    )


class Result(Input):
    output: Json = Field(default_factory=dict)
    quality: Annotated[float, Field(ge=0, le=1)] | None = None


class Vote(Input):
    value: Annotated[int, Field(ge=-1, le=1)]
    reason: Annotated[Text, Field(max_length=1000)] | None = None


class Comment(Input):
    content: Annotated[Text, Field(min_length=1, max_length=constants.COMMENT_MAX)]
    parent: UUID | None = None


class Reason(Input):
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


def parse(model: type[M], data: Any) -> M:
    """Validates ``data`` into ``model``; a failure becomes one line naming the field."""
    try:
        if isinstance(data, model):
            return data
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.InvalidInput(describe(exc)) from None
    except (TypeError, RecursionError) as exc:
        raise errors.InvalidInput(f"invalid {model.__name__} input: {exc}") from None


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def uuid_arg(value: Any, what: str) -> UUID:
    """A UUID from user input, or InvalidInput naming what it should have been."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        shown = str(value)[:40]
        raise errors.InvalidInput(f"{what} {shown!r} is not a valid id (expected a UUID)") from None


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
    available_at: datetime
    lease_expires_at: datetime | None
    claimed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    review_quorum: int
    depends_on: list[UUID]
    blocks: list[UUID]
    pending_deps: int
    output: Any | None
    quality_score: float | None
    last_error: str | None
    deadline: datetime | None
    fibonacci_size: int
    idempotency_key: str | None
    created_at: datetime


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
