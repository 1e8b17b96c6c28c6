"""The templates' environment: Jinja2 with autoescape on for every template (a title of
``<script>`` is shown as text), and the few filters that present the board's values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from phoenix_board.web import session

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("phoenix_board.web") / "templates")),
    autoescape=True,  # every template, whatever its name: no page may print user text raw
    trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
)


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that fits: 45s, 12m, 3h, 5d (a future time: in 3h)."""
    if when is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    ahead = "in " if seconds < 0 else ""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{ahead}{int(seconds // size)}{unit}"
    return f"{ahead}{int(seconds)}s"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(value: datetime | None) -> str:
    """A time in a table: month, day and time of day (UTC); ``when`` gives the whole of it."""
    return "-" if value is None else value.astimezone(UTC).strftime("%m-%d %H:%M:%S")


def number(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def duration(seconds: Any) -> str:
    """Seconds as a person reads them: 45s, 3m 20s, 2h 5m, 3d 4h."""
    if seconds is None:
        return "-"
    s = int(float(seconds))
    for big, small, name_big, name_small in ((86400, 3600, "d", "h"), (3600, 60, "h", "m"), (60, 1, "m", "s")):
        if s >= big:
            return f"{s // big}{name_big} {(s % big) // small}{name_small}"
    return f"{float(seconds):.1f}s" if float(seconds) < 10 else f"{s}s"


def rank(value: Any) -> str:
    """A hot or active rank: three significant digits (the ranks span orders of magnitude)."""
    return "-" if value is None else f"{float(value):.3g}"


_env.filters.update(age=age, pretty_json=pretty_json, when=when, number=number, rank=rank, duration=duration, clock=clock)


def page(request: Request, template: str, viewer: session.Viewer | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, viewer=viewer, path=request.url.path,
                                               note=request.query_params.get("note"), **context)
    return HTMLResponse(html, status_code=status, headers={
        # the pages load only this server's own script and stylesheet; no frames of them elsewhere
        "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
