"""A small client of the board's HTTP API, for Python programs, the queue client's HTTP mode
(workers/client.py), the API benchmark and the tests: GraphQL over HTTP (httpx) and subscriptions
over graphql-transport-ws (websockets). A GraphQL error comes back as the board's typed error its
``extensions.code`` names, with the server's message, so callers handle it as they would the
Python API's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from phoenix_board.board import errors

PROTOCOL = "graphql-transport-ws"


class RateLimited(errors.Unavailable):
    """The server's per-token rate limit: wait ``retry_after`` seconds."""

    def __init__(self, message: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(errors.BoardError):
    """The server refused the token."""


_BY_CODE: dict[str, type[errors.BoardError]] = {
    "UNAUTHENTICATED": Unauthenticated,
    "FORBIDDEN": errors.Forbidden,
    "NOT_FOUND": errors.NotFound,
    "INVALID_INPUT": errors.InvalidInput,
    "QUERY_TOO_COMPLEX": errors.InvalidInput,
    "BODY_TOO_LARGE": errors.InvalidInput,
    "GRAPHQL_PARSE_FAILED": errors.InvalidInput,
    "GRAPHQL_VALIDATION_FAILED": errors.InvalidInput,
    "CONFLICT": errors.Conflict,
    "ILLEGAL_TRANSITION": errors.IllegalTransition,
    "STALE_CLAIM": errors.StaleClaim,
    "EVENTS_MISSED": errors.Conflict,
    "TOO_MANY_SUBSCRIPTIONS": errors.Forbidden,
    "UNAVAILABLE": errors.Unavailable,
}


def error_of(error: dict[str, Any]) -> errors.BoardError:
    code = (error.get("extensions") or {}).get("code", "")
    kind = _BY_CODE.get(code, errors.BoardError)
    exc = kind(f"{error.get('message', 'error')} ({code or 'no code'})")
    exc.code = code  # type: ignore[attr-defined] - what the server said, for callers that branch on it
    return exc


class GraphQLClient:
    """``GraphQLClient(base_url, token).execute(query, variables)`` -> the response's data."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 60.0, retries_when_limited: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.retries_when_limited = retries_when_limited

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        for attempt in range(self.retries_when_limited + 1):
            try:
                response = self.http.post("/graphql", json={"query": query, "variables": variables or {}})
            except httpx.HTTPError as exc:
                raise errors.Unavailable(f"cannot reach the board's API at {self.base_url}: {exc}") from None
            if response.status_code == 429 and attempt < self.retries_when_limited:
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            return _data(response)
        raise AssertionError("unreachable")


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise errors.Unavailable(f"the API answered {response.status_code} without GraphQL: "
                                 f"{response.text[:200]}") from None
    if body.get("errors"):
        exc = error_of(body["errors"][0])
        if response.status_code == 429:
            raise RateLimited(exc.message, float(response.headers.get("retry-after", "1")))
        raise exc
    if response.status_code != 200:
        raise errors.Unavailable(f"the API answered {response.status_code}")
    return body.get("data") or {}


def ws_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return ("wss://" + base[len("https://"):] if base.startswith("https://") else "ws://" + base.removeprefix("http://")) + "/graphql"


async def subscribe(base_url: str, token: str | None, query: str, variables: dict[str, Any] | None = None,
                    *, ready: Any = None, open_timeout: float = 30.0) -> AsyncIterator[dict[str, Any]]:
    """The ``data`` of each event of one subscription (graphql-transport-ws), until the server
    completes it or the caller stops; an error event raises its typed error. ``ready`` (an
    asyncio.Event) is set once the server acknowledged the subscription's connection."""
    import websockets  # only subscribers need it

    try:
        connection = await websockets.connect(ws_url(base_url), subprotocols=[PROTOCOL], open_timeout=open_timeout,
                                              max_size=2**22)
    except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
        raise errors.Unavailable(f"cannot open a subscription at {base_url}: {exc}") from None
    async with connection as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if token:
            init["payload"] = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        try:
            ack = json.loads(await ws.recv())
        except websockets.exceptions.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code in (4401, 4403):  # graphql-transport-ws: the connection_init was refused
                raise Unauthenticated(f"the server refused the subscription's token ({code} {exc.rcvd.reason})") from None
            raise errors.Unavailable(f"the subscription's connection closed: {exc}") from None
        if ack.get("type") != "connection_ack":
            raise Unauthenticated(f"the server refused the subscription: {ack}")
        op = uuid.uuid4().hex
        await ws.send(json.dumps({"id": op, "type": "subscribe",
                                  "payload": {"query": query, "variables": variables or {}}}))
        if ready is not None:
            ready.set()
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next" and message.get("id") == op:
                    payload = message["payload"]
                    if payload.get("errors"):
                        raise error_of(payload["errors"][0])
                    yield payload.get("data") or {}
                elif kind == "error" and message.get("id") == op:
                    raise error_of((message.get("payload") or [{}])[0])
                elif kind == "complete" and message.get("id") == op:
                    return
        except websockets.exceptions.ConnectionClosed as exc:
            raise errors.Unavailable(f"the subscription's connection closed: {exc}") from None
