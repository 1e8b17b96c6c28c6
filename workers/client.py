"""The queue client for agents and programs: submit, vote, comment (Celery messages) and status.

    from phoenix_board.workers.client import Client

    with Client() as board:                       # PHOENIX_REDIS_URL / PHOENIX_DATABASE_URL, or embedded
        key = board.submit({"title": "Index the logs", "team": "iota"})
        board.vote(task_id, "scout-1", +1)
        board.status(key)                         # the task as the board has it, or None if not yet

Messages are validated here before they are sent, so a bad call raises ``InvalidInput`` at once.
A submission carries an idempotency key (a new UUID unless given): sending it again, after a
timeout or a broker restart, never makes a second task. ``status`` reads PostgreSQL, the one
source of truth; there is no result backend to lose. With ``PHOENIX_DATABASE_READ_URL`` it reads
the replica, so a task just committed may show there a moment later.

A program that reaches neither the broker nor the database uses the same calls over the board's
HTTP API with an API token (``phoenix-board tokens create``): ``HttpClient(url, token)``. There a
submission is answered at once with the task's id, and ``submit_and_wait`` returns the ended task.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any
from uuid import UUID

from phoenix_board.board import constants, errors, ids, inputs, lifecycle, models
from phoenix_board.board.db import Database
from phoenix_board.board.session import open_board
from phoenix_board.board.settings import Settings
from phoenix_board.workers import broker, delivery, messages, sending
from phoenix_board.workers.app import make_app


class Client:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._stack = contextlib.ExitStack()
        self._db: Database | None = None
        self.app = make_app(self._stack.enter_context(broker.broker_url(self.settings)), self.settings)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, name: str, body: dict[str, Any], queue: str | None = None) -> None:
        size = _size(body)
        if size > delivery.MESSAGE_MAX_BYTES - _ENVELOPE:
            raise errors.InvalidInput(f"a {name} message of {size:,} bytes is over the limit of "
                                      f"{delivery.MESSAGE_MAX_BYTES - _ENVELOPE:,}; send less in one message")
        try:
            sending.send(self.app, name, body, queue or self.settings.board_queue())
        except Exception as exc:  # kombu's OperationalError and friends: say where we tried
            raise errors.Unavailable(f"cannot reach the broker: {exc}") from exc

    def submit(self, task: dict[str, Any] | models.TaskSubmit, idempotency_key: str | None = None) -> str:
        """Sends a submission; returns its idempotency key (use it with ``status``)."""
        data = _fields(task)
        data["idempotency_key"] = idempotency_key or data.get("idempotency_key") or str(uuid.uuid4())
        msg = models.parse(messages.SubmitMessage, data)
        self._send(sending.SUBMIT, msg.model_dump(mode="json"))
        return msg.idempotency_key

    def submit_many(self, tasks: list[dict[str, Any] | models.TaskSubmit], batch: int = 200) -> list[str]:
        """Sends many submissions, ``batch`` to a message (fewer when that many would pass the
        message size limit); returns their idempotency keys in order. Every task is validated
        before anything is sent."""
        batch = models.whole_arg(batch, "batch", 1, constants.BATCH_MAX)
        bodies = []
        for task in tasks:
            data = _fields(task)
            data["idempotency_key"] = data.get("idempotency_key") or str(uuid.uuid4())
            bodies.append(models.parse(messages.SubmitMessage, data).model_dump(mode="json"))
        for part in _packed(bodies, batch):
            self._send(sending.SUBMIT_MANY, {"tasks": part})
        return [b["idempotency_key"] for b in bodies]

    def vote(self, task: UUID | str, agent: str, value: int, reason: str | None = None) -> None:
        msg = models.parse(messages.VoteMessage, {"task": task, "agent": _ref(agent), "value": value, "reason": reason})
        self._send(sending.VOTE, msg.model_dump(mode="json"))

    def comment(self, task: UUID | str, agent: str, content: str, parent: UUID | str | None = None,
                idempotency_key: str | None = None) -> str:
        """Sends a comment; returns its idempotency key (a new one unless given). A message
        delivered twice, or re-sent with the same key, posts the comment once."""
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        msg = models.parse(messages.CommentMessage, {"task": task, "agent": _ref(agent), "content": content, "parent": parent,
                                              "idempotency_key": key})
        self._send(sending.COMMENT, msg.model_dump(mode="json"))
        return key

    def cancel(self, task: UUID | str, agent: str, reason: str | None = None) -> None:
        """Cancels a task and all its live descendants, for the agent that created it (or one of
        its ancestors). Cancelling a task that already ended is a no-op."""
        msg = models.parse(messages.CancelMessage, {"task": task, "agent": _ref(agent), "reason": reason})
        self._send(sending.CANCEL, msg.model_dump(mode="json"))

    def cascade(self, hormone: str, intensity: float, *, team: str | None = None, agent: str | None = None,
                cascade_id: UUID | str | None = None) -> str:
        """Asks for the operator's hormone cascade (docs/concepts/cascades.md); returns its id. The
        beat's worker runs it: it works as the owner, and cascades are not the agents' to start.
        Re-sending the same id changes nothing."""
        msg = models.parse(messages.CascadeMessage, {"id": str(cascade_id or uuid.uuid4()), "hormone": hormone,
                                              "intensity": intensity, "team": team,
                                              "agent": None if agent is None else _ref(agent)})
        self._send(sending.CASCADE, msg.model_dump(mode="json"), queue=self.settings.beat_queue())
        return str(msg.id)

    def database(self) -> Database:
        """The board itself (opened on first use), for reads the messages cannot give."""
        if self._db is None:
            self._db = self._stack.enter_context(open_board(self.settings, max_size=2, reads_only=True))
        return self._db

    def task_id(self, ref: str | UUID) -> UUID:
        """The id of the task a typed reference names (full id, prefix or short id; see board.ids)."""
        return ids.task(self.database(), ref)

    def status(self, ref: str | UUID) -> models.Task | None:
        """The task with this id or idempotency key, or None while it is not on the board yet."""
        db = self.database()
        row = db.one("task_by_key", key=str(ref))  # a key is exact, so it goes first
        if row:
            return models.Task.from_row(row)
        try:
            return lifecycle.get(db, ids.task(db, ref))
        except (errors.InvalidInput, errors.NotFound):  # neither a key nor a task's id: not there yet
            return None


# room for the rest of a message's body (args, embed) around the body we measure
_ENVELOPE = 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def _packed(bodies: list[dict[str, Any]], batch: int) -> list[list[dict[str, Any]]]:
    """Consecutive groups of at most ``batch`` bodies, each group under the message size limit."""
    room = delivery.MESSAGE_MAX_BYTES - _ENVELOPE - 64  # 64: the {"tasks": [...]} around them
    groups: list[list[dict[str, Any]]] = []
    used = room + 1
    for body in bodies:
        size = _size(body) + 2
        if len(groups) == 0 or len(groups[-1]) >= batch or used + size > room:
            groups.append([])
            used = 0
        groups[-1].append(body)
        used += size
    return groups


def _fields(task: Any) -> dict[str, Any]:
    """A submission's fields from a model or a mapping; anything else is refused before sending."""
    if isinstance(task, models.TaskSubmit):
        return task.model_dump(mode="json")
    if isinstance(task, dict):
        return dict(task)
    raise errors.InvalidInput(f"a task is an object with named fields, not {inputs.shown(task)}")


def _ref(agent: Any) -> Any:
    # an agent id may be given as a UUID; anything else goes to validation as it is
    return str(agent) if isinstance(agent, UUID) else agent


# --- HTTP mode ---------------------------------------------------------------------------------

_TASK_FIELDS = "id title team status attempt output lastError qualityScore createdAt completedAt assignedTo idempotencyKey"
_CAMEL = {"dopamine_reward": "dopamineReward", "max_attempts": "maxAttempts", "review_quorum": "reviewQuorum",
          "depends_on": "dependsOn", "fibonacci_size": "fibonacciSize", "idempotency_key": "idempotencyKey",
          "created_by": "createdBy", "needs_person": "needsPerson"}


def _snake(task: dict[str, Any]) -> dict[str, Any]:
    """A task as the API gives it, with the board's names: snake_case keys, lower-case status."""
    out = {"".join("_" + c.lower() if c.isupper() else c for c in k): v for k, v in task.items()}
    if isinstance(out.get("status"), str):
        out["status"] = out["status"].lower()
    return out


class HttpClient:
    """The queue client's calls over the board's HTTP API (``phoenix-board serve``), with an API
    token. An operator token names the acting agent in ``vote``/``comment``/``cancel``; an agent
    token always acts as its own agent (pass ``agent=None``)."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        from phoenix_board.api.client import GraphQLClient  # only the HTTP mode needs httpx

        self.gql = GraphQLClient(url, token, timeout=timeout)

    def close(self) -> None:
        self.gql.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self, task: dict[str, Any] | models.TaskSubmit, idempotency_key: str | None,
                wait: float | None) -> dict[str, Any]:
        data = _fields(task)
        data["idempotency_key"] = idempotency_key or data.get("idempotency_key") or str(uuid.uuid4())
        msg = models.parse(messages.SubmitMessage, data)  # refused here, before sending, as the Celery mode does
        given = {k: v for k, v in msg.model_dump(mode="json", exclude_none=True).items() if k in data}
        given["idempotency_key"] = msg.idempotency_key
        query = ("mutation($input: CreateTaskInput!, $wait: Float) { createTask(input: $input, waitSeconds: $wait) "
                 f"{{ created ended task {{ {_TASK_FIELDS} }} }} }}")
        result = self.gql.execute(query, {"input": {_CAMEL.get(k, k): v for k, v in given.items()}, "wait": wait})
        return _snake(result["createTask"]["task"])

    def submit(self, task: dict[str, Any] | models.TaskSubmit, idempotency_key: str | None = None) -> str:
        """Creates the task (once per idempotency key); returns its id, which ``status`` takes."""
        return str(self._create(task, idempotency_key, None)["id"])

    def submit_and_wait(self, task: dict[str, Any] | models.TaskSubmit, seconds: float,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        """Creates the task and returns it when it ended or ``seconds`` passed (see its status)."""
        return self._create(task, idempotency_key, seconds)

    def vote(self, task: UUID | str, agent: str | None, value: int, reason: str | None = None) -> None:
        self.gql.execute("mutation($t: ID!, $v: Int!, $r: String, $a: String) { voteTask(taskId: $t, vote: $v, "
                         "reason: $r, agent: $a) { score } }", {"t": str(task), "v": value, "r": reason, "a": _ref(agent)})

    def comment(self, task: UUID | str, agent: str | None, content: str, parent: UUID | str | None = None) -> str:
        found = self.gql.execute("mutation($t: ID!, $c: String!, $p: ID, $a: String) { comment(taskId: $t, content: $c, "
                                 "parentId: $p, agent: $a) { id } }",
                                 {"t": str(task), "c": content, "p": None if parent is None else str(parent), "a": _ref(agent)})
        return str(found["comment"]["id"])

    def cancel(self, task: UUID | str, reason: str | None = None) -> int:
        """Cancels the task and its live descendants; returns how many were cancelled."""
        found = self.gql.execute("mutation($t: ID!, $r: String) { cancelTask(taskId: $t, reason: $r) { cancelled } }",
                                 {"t": str(task), "r": reason})
        return int(found["cancelTask"]["cancelled"])

    def cascade(self, hormone: str, intensity: float, *, team: str | None = None, agent: str | None = None,
                cascade_id: UUID | str | None = None) -> str:
        """The operator's hormone cascade (operator tokens); returns its id."""
        cascade_id = str(cascade_id or uuid.uuid4())
        self.gql.execute("mutation($h: String!, $i: Float!, $t: String, $a: String, $c: ID) { cascadeHormone(type: $h, "
                         "intensity: $i, team: $t, agent: $a, cascadeId: $c) }",
                         {"h": hormone, "i": intensity, "t": team, "a": _ref(agent), "c": cascade_id})
        return cascade_id

    def status(self, ref: str | UUID) -> dict[str, Any] | None:
        """The task with this id, or None when the board has none (or this token may not see it)."""
        try:
            found = self.gql.execute(f"query($id: ID!) {{ task(id: $id) {{ {_TASK_FIELDS} }} }}", {"id": str(ref)})
        except (errors.NotFound, errors.InvalidInput):  # not a task's id at all: not there either
            return None
        return _snake(found["task"])
