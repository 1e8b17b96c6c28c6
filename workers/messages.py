"""The bodies of the queue's messages, validated before anything is written.

A message is ``send_task(name, kwargs={"body": {...}})``; :func:`body` takes the body out of
whatever arrived, so a message of another shape is refused in one line like a bad body, instead of
failing with a TypeError and a traceback in the worker's log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, model_validator

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.hormones import HORMONES

AgentRef = Annotated[models.Text, Field(min_length=1, max_length=constants.CODENAME_MAX)]  # codename or id


def body(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The one body of a message: the keyword argument ``body``, or a single positional argument."""
    if not args and set(kwargs) == {"body"}:
        return kwargs["body"]
    if len(args) == 1 and not kwargs:
        return args[0]
    names = ", ".join(inputs.shown(k) for k in list(kwargs)[:3])
    raise errors.InvalidInput(f"a message carries one argument, body; this one has {len(args)} positional "
                              f"and keyword(s) {names or 'none'}")


class SubmitMessage(models.TaskSubmit):
    # required on the queue: a message may be delivered twice
    idempotency_key: Annotated[models.Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)]


class SubmitManyMessage(models.Input):
    tasks: Annotated[list[dict], Field(min_length=1, max_length=constants.BATCH_MAX)]


class VoteMessage(models.Input):
    task: UUID
    agent: AgentRef
    value: Annotated[models.Whole, Field(ge=-1, le=1)]
    reason: Annotated[models.Text, Field(max_length=constants.REASON_MAX)] | None = None


class CommentMessage(models.Input):
    task: UUID
    agent: AgentRef
    content: Annotated[models.Text, Field(min_length=1, max_length=constants.COMMENT_MAX)]
    parent: UUID | None = None
    # optional for older senders; Client.comment always sends one, so a redelivery posts once
    idempotency_key: Annotated[models.Text, Field(min_length=1, max_length=constants.IDEMPOTENCY_KEY_MAX)] | None = None


class CancelMessage(models.Input):
    task: UUID
    agent: AgentRef
    reason: Annotated[models.Text, Field(max_length=constants.REASON_MAX)] | None = None

class CascadeMessage(models.Input):
    """The operator's hormone cascade (docs/concepts/cascades.md); the id makes a re-delivery a no-op."""
    id: UUID
    hormone: Literal[HORMONES]  # type: ignore[valid-type] - the tuple subscripts as its members
    intensity: Annotated[float, Field(ge=-constants.CASCADE_INTENSITY_MAX, le=constants.CASCADE_INTENSITY_MAX,
                                      allow_inf_nan=False)]
    team: models.Name | None = None
    agent: AgentRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "CascadeMessage":
        if self.intensity == 0:
            raise ValueError("intensity must not be 0")
        if (self.team is None) == (self.agent is None):
            raise ValueError("give either a team or an agent to start the cascade from")
        return self


class WakeMessage(models.Input):
    team: models.Name


class JudgeMessage(models.Input):
    """An assessment (vote on a new task) or a review request for one agent."""

    task: UUID
    agent: UUID
