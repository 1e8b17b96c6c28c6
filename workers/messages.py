"""The bodies of the queue's messages, validated before anything is written."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from phoenix_board.board import models

AgentRef = Annotated[str, Field(min_length=1, max_length=100)]  # codename or id


class Submit(models.TaskSubmit):
    idempotency_key: Annotated[models.Text, Field(min_length=1, max_length=200)]  # required on the queue


class SubmitMany(models.Input):
    tasks: Annotated[list[dict], Field(min_length=1, max_length=1000)]


class Vote(models.Input):
    task: UUID
    agent: AgentRef
    value: Annotated[int, Field(ge=-1, le=1)]
    reason: Annotated[models.Text, Field(max_length=1000)] | None = None


class Comment(models.Input):
    task: UUID
    agent: AgentRef
    content: Annotated[models.Text, Field(min_length=1, max_length=10_000)]
    parent: UUID | None = None


class Wake(models.Input):
    team: models.Name


class Judge(models.Input):
    """An assessment (vote on a new task) or a review request for one agent."""

    task: UUID
    agent: UUID
