"""The ASGI app: ``/graphql`` (HTTP and graphql-transport-ws), ``/healthz``, ``/readyz``,
``/metrics``, and the web board (``web/routes.py``: its pages and its sign-in, which GraphiQL uses too).

Every ``/graphql`` request is authenticated before GraphQL sees it (api/auth.py): no valid token
answers 401 with ``extensions.code`` UNAUTHENTICATED (or, with ``api_public_read``, reads as the
public principal). A websocket authenticates at its handshake (the ``Authorization`` header) or,
as browsers cannot set headers there, with ``{"authorization": "Bearer ..."}`` in its
``connection_init`` payload. GraphiQL is served only to a signed-in person: the web's
``/signin`` keeps the token in an HttpOnly, SameSite=Strict cookie for this origin, which the
server reads like the header. The rate and body limits (api/limits.py) wrap the whole app.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.asgi import HTTPException  # the view's own (cross_web's), as Strawberry raises it
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from phoenix_board.api import auth, errors, limits, subscriptions
from phoenix_board.api import schema as api_schema
from phoenix_board.api.metrics import ApiMetrics
from phoenix_board.api.pools import Pools, open_pools
from phoenix_board.api.schema.context import Context
from phoenix_board.board import errors as board_errors
from phoenix_board.board import migrate
from phoenix_board.web import routes as web_routes
from phoenix_board.web import session as web_session

log = logging.getLogger(__name__)
COOKIE = web_session.COOKIE  # the sign-in cookie: the web's session (web/session.py)
NOBODY = "00000000-0000-0000-0000-000000000000"  # acts for no agent: the readiness check only reads


def _authorization(headers: Any, cookies: dict[str, str]) -> str | None:
    """The Authorization header, else the sign-in cookie as one."""
    given = headers.get("authorization")
    if given is None and cookies.get(COOKIE):
        return f"Bearer {cookies[COOKIE]}"
    return given


class BoardGraphQL(GraphQL):
    """Strawberry's ASGI view with the board's context, error codes and websocket sign-in."""

    def __init__(self, schema: Any, settings: Any, **kwargs: Any) -> None:
        super().__init__(schema, graphql_ide="graphiql", subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         keep_alive=True, keep_alive_interval=15, **kwargs)
        self.settings = settings

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """As Strawberry's, but a malformed request (bad JSON, no query, wrong method) is answered
        in GraphQL's shape too, with the code BAD_REQUEST, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = JSONResponse({"errors": [{"message": board_errors.one_line(exc.reason),
                                                 "extensions": {"code": "BAD_REQUEST"}}]}, status_code=exc.status_code)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError:  # nested past Python's parser: a bad request, not a server error
            raise HTTPException(400, "the JSON body is nested too deeply") from None
        except UnicodeDecodeError:  # json.loads decodes bytes itself; Strawberry catches only JSONDecodeError
            raise HTTPException(400, "the JSON body is not valid UTF-8") from None

    async def get_context(self, request: Any, response: Any) -> Context:
        ctx = Context(pools=request.app.state.pools, settings=self.settings,
                      principal=getattr(request.state, "principal", None), request=request, response=response)
        ctx.connection_params = None  # type: ignore[attr-defined] - filled by graphql-transport-ws
        return ctx

    async def on_ws_connect(self, context: Context) -> Any:
        if context.principal is not None:
            return await super().on_ws_connect(context)
        params = getattr(context, "connection_params", None) or {}
        given = params.get("authorization") or params.get("Authorization")
        try:
            context.principal = await context.pools.run(auth.authenticate, given if isinstance(given, str) else None,
                                                        self.settings)
        except board_errors.BoardError as exc:
            context.request.app.state.metrics.auth_failures.inc()
            raise ConnectionRejectionError(errors.body(exc)) from None
        return await super().on_ws_connect(context)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        out: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            out["errors"] = [errors.formatted(e) for e in result.errors]
            metrics = request.app.state.metrics
            for e in out["errors"]:
                metrics.errors.labels(e["extensions"]["code"]).inc()
        if result.extensions:
            out["extensions"] = result.extensions
        return out


class Guard:
    """Authenticates a /graphql request before the view runs, and counts it in flight."""

    def __init__(self, view: BoardGraphQL, settings: Any) -> None:
        self.view = view
        self.settings = settings

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = scope["app"]
        request = HTTPConnection(scope)  # (API-B) Request() asserts an http scope; websockets come here too
        given = _authorization(request.headers, request.cookies)
        wants_page = scope["type"] == "http" and scope.get("method") == "GET" and "text/html" in request.headers.get(
            "accept", "")
        state = scope.setdefault("state", {})
        if scope["type"] == "websocket" and given is None:
            state["principal"] = None  # signs in with its connection_init payload
            await self.view(scope, receive, send)
            return
        try:
            principal = await app.state.pools.run(auth.authenticate, given, self.settings)
            if wants_page and principal.kind == "public":
                raise auth.Unauthenticated("sign in to use GraphiQL")
        except board_errors.BoardError as exc:
            if isinstance(exc, auth.Unauthenticated):
                app.state.metrics.auth_failures.inc()
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401, "reason": "unauthenticated"})
                return
            if wants_page:
                response: Response = RedirectResponse("/signin?next=%2Fgraphql", status_code=303)
            else:
                status = 401 if isinstance(exc, auth.Unauthenticated) else 503
                response = JSONResponse(errors.body(exc), status_code=status,
                                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
            await response(scope, receive, send)
            return
        state["principal"] = principal
        if scope["type"] != "http":
            await self.view(scope, receive, send)
            return
        gauge = app.state.metrics.in_flight
        gauge.inc()
        try:
            await self.view(scope, receive, send)
        finally:
            gauge.dec()


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


def _applied(db: Any) -> set[str]:
    return {r["version"] for r in db.all("schema_versions_applied")}


async def readyz(request: Request) -> Response:
    """Ready when both pools reach PostgreSQL and every migration this server knows is applied."""
    pools: Pools = request.app.state.pools
    try:
        applied = await pools.run(_applied)
        await pools.run(_applied, agent=NOBODY)  # the agent pool's login and role work too
    except board_errors.BoardError as exc:
        return JSONResponse({"ready": False, "error": exc.message}, status_code=503)
    pending = sorted(f.name for f in migrate.migrations() if f.name not in applied)
    if pending:
        return JSONResponse({"ready": False, "error": f"migrations pending: {', '.join(pending)}"}, status_code=503)
    return JSONResponse({"ready": True})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Any, pools: Pools | None = None) -> Starlette:
    """The app. Without ``pools`` it opens its own when it starts (and closes them when it stops)."""
    graphql_schema = api_schema.build(settings)
    view = BoardGraphQL(graphql_schema, settings)
    guard = Guard(view, settings)
    api_metrics = ApiMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stack = contextlib.ExitStack()
        if pools is not None:
            app.state.pools = pools
        else:
            app.state.pools = await anyio.to_thread.run_sync(lambda: stack.enter_context(open_pools(settings)))
        try:
            try:  # queries and mutations need no Redis: without it only subscriptions and waits are refused
                await subscriptions.start(settings, app.state.pools.reads)
            except board_errors.BoardError as exc:
                log.warning("subscriptions and createTask(waitSeconds) are unavailable: %s", exc.message)
            yield
        finally:
            await subscriptions.stop()
            await anyio.to_thread.run_sync(stack.close)

    app = Starlette(
        routes=[
            Route("/graphql", guard, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", guard),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *web_routes.ROUTES,  # the web board: /, /t/<id>, /agents, /federation, /console, /signin
        ],
        middleware=[Middleware(limits.Limits, settings=settings, on_limited=api_metrics.on_limited)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = api_metrics
    return app
