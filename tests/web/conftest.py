"""The web board's tests: a real `phoenix-board serve` (the API's process, which serves the web)
and the event relay, on a database and an embedded Valkey of the module's own; HTTP clients that
post forms as a browser does; and one headless Chromium per module for the browser tests.

One server per module, not per test, as tests/api does: tests in a module share its board, so each
makes what it needs (its own team, agents and tasks) and asserts only on that."""

from __future__ import annotations

import dataclasses
import itertools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phoenix_board.api import tokens
from phoenix_board.board import teams
from phoenix_board.board.db import Database
from tests.conftest import served_board

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/run; Playwright downloads no browser
_teams = itertools.count(1)
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')



@dataclasses.dataclass
class Web:
    """The running server: its address, its board (set-up through the Python API), tokens and
    signed-in HTTP clients."""

    base: str
    db: Database = dataclasses.field(repr=False)
    env: dict[str, str] = dataclasses.field(repr=False)
    log: Path

    def token(self, kind: str, agent: str | None = None) -> str:
        return tokens.create(self.db, kind, agent=agent).token

    def team(self) -> str:
        name = f"w{next(_teams)}_{uuid.uuid4().hex[:6]}"
        teams.create(self.db, name)
        return name

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client that sends what a browser's form post sends (Origin), signed in with
        ``token`` through the sign-in form when given."""
        c = httpx.Client(base_url=self.base, timeout=30, headers={"Origin": self.base})
        if token is not None:
            r = c.post("/signin", data={"token": token, "next": "/"})
            assert r.status_code == 303, r.text
        return c

    @staticmethod
    def csrf(page: str) -> str:
        found = _CSRF.search(page)
        assert found, "no form token on the page"
        return found.group(1)


@pytest.fixture(scope="module")
def web(server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    settings = {"PHOENIX_QUEUE_PREFIX": f"w{uuid.uuid4().hex[:10]}", "PHOENIX_LEASE_SECONDS": "5",
                "PHOENIX_IDLE_POLL_SECONDS": "0.5", "PHOENIX_HEARTBEAT_SECONDS": "1", "PHOENIX_WORKER_METRICS_PORT": "0"}
    with served_board(server_url, template_db, tmp_path_factory.mktemp("web"), "web-test", settings,
                      relay=True) as s:
        yield Web(s.base, s.db, s.env, s.log)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (each test opens its own context: cookies of its own)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield b
        finally:
            b.close()
