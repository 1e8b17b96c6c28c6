"""`phoenix-board serve`: the HTTP and GraphQL API (api/app.py) on uvicorn.

The settings are read once here (api/settings.py) and passed down. ``--print-schema`` prints the
schema (as committed in schema.graphql) and exits without touching a database.
"""

from __future__ import annotations

import logging
from typing import Optional

import typer

from phoenix_board.board import errors

log = logging.getLogger(__name__)


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Where to listen (default PHOENIX_API_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535,
                                       help="Where to listen (default PHOENIX_API_PORT, 8470)."),
    print_schema: bool = typer.Option(False, "--print-schema", help="Print the GraphQL schema and exit."),
) -> None:
    """Serve the board's HTTP and GraphQL API: /graphql, /healthz, /readyz, /metrics."""
    if print_schema:
        from phoenix_board.api import schema

        typer.echo(schema.sdl(), nl=False)
        return
    import uvicorn
    from pydantic import ValidationError

    from phoenix_board.api.app import create_app
    from phoenix_board.api.pools import open_pools
    from phoenix_board.api.settings import ApiSettings
    from phoenix_board.board import models

    try:
        s = ApiSettings()
    except ValidationError as exc:
        raise errors.InvalidInput(f"settings: {models.describe(exc)}") from None
    bind_host, bind_port = host or s.api_host, port or s.api_port
    # the pools open here, before uvicorn: a database that cannot be reached is one `error:` line
    # and exit 1, as for every command, not a failed startup's traceback
    with open_pools(s) as pools:
        app = create_app(s, pools)
        typer.echo(f"serving http://{bind_host}:{bind_port}/graphql (/healthz /readyz /metrics)", err=True)
        # uvicorn's access log would print each request line; tokens travel in headers, never in
        # the URL, and the log stays off so that nothing about a caller is logged by default
        uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning", access_log=False,
                    ws="websockets-sansio" if _has("websockets") else "auto", lifespan="on")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
