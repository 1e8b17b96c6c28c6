"""Per-token rate limit and request body size limit: ASGI middleware in front of the whole app.

Rate: a token bucket per token (``api_rate_per_second`` refilled, ``api_rate_burst`` deep), kept
in this process's memory: a limit per server process, which is what protects that process. A
request is counted against its bearer token's digest, read from the header without a database
lookup, so a flood of requests costs no query; requests without a token count against their
address. Over the limit: 429 with ``Retry-After`` (whole seconds until one request fits) and a
GraphQL-shaped body whose ``extensions.code`` is RATE_LIMITED. A websocket handshake counts as one
request; a refused one is closed with code 4429.

Body: a ``Content-Length`` above ``api_max_body_bytes`` is refused at once with 413; a body sent
without one (chunked) is counted as it arrives and cut off with 413 when it passes the limit.
The health and metrics endpoints are not limited: probes and scrapes must always get through.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RATE_LIMITED_CLOSE = 4429  # websocket close code for a refused handshake (4000-4999: the application's)
_BUCKETS_MAX = 50_000  # keys remembered; past this, buckets that are full again are dropped


class TokenBuckets:
    """One bucket per key; ``take`` answers 0 when a request may go, else seconds to wait."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > _BUCKETS_MAX:
                    self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]


def holder_key(scope: Scope) -> str:
    """What a request counts against: its bearer token's digest, or its client address."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return "t:" + hashlib.sha256(value).hexdigest()[:32]
    client = scope.get("client")
    return "a:" + (client[0] if client else "unknown")


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Limits:
    """The middleware: ``Limits(app, settings)``, or ``Middleware(Limits, settings=...)`` in Starlette.
    ``on_limited(reason)`` (optional) is called for each refusal, for the server's metrics."""

    def __init__(self, app: ASGIApp, settings: Any, on_limited: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.max_body = int(settings.api_max_body_bytes)
        self.buckets = TokenBuckets(float(settings.api_rate_per_second), int(settings.api_rate_burst))
        self.on_limited = on_limited

    def _limited(self, reason: str) -> None:
        if self.on_limited is not None:
            self.on_limited(reason)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope.get("path") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(holder_key(scope))
        if wait > 0:
            self._limited("rate")
            retry = str(max(1, math.ceil(wait)))
            if kind == "websocket":
                await send({"type": "websocket.close", "code": RATE_LIMITED_CLOSE, "reason": "rate limited"})
                return
            await _answer(send, 429, error_body(f"too many requests for this token: retry after {retry} s", "RATE_LIMITED"),
                          [(b"retry-after", retry.encode())])
            return
        if kind == "websocket":
            await self.app(scope, receive, send)  # frames are small; the server's own max size bounds them
            return
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _answer(send, 400, error_body("Content-Length is not a number", "INVALID_INPUT"))
                    return
                if declared > self.max_body:
                    self._limited("body")
                    await _answer(send, 413, self._too_large())
                    return
        await self._counted(scope, receive, send)

    def _too_large(self) -> bytes:
        return error_body(f"the request body is over {self.max_body:,} bytes", "BODY_TOO_LARGE")

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Passes the body on while it is within the limit. Past it the app is told the client
        went away (so it stops reading and writes nothing), whatever it then sends is dropped,
        and the client gets the 413."""
        seen = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            self._limited("body")
            await _answer(send, 413, self._too_large())
