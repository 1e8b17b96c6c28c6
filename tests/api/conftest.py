"""A real API server process (`phoenix-board serve`) per test module, on a database and an embedded
Valkey of that module's own, and clients that speak real HTTP to it.

One server per module, not per test: starting one costs the imports and two pools. Tests in a
module share its board, so each makes what it needs (its own agents, its own team when it claims)
and asserts only on that."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.api import tokens
from phoenix_board.board import teams
from phoenix_board.board.db import Database
from tests.conftest import served_board, start_cli

_teams = itertools.count(1)



@dataclasses.dataclass
class Api:
    """The running server: its URL, its board (for set-up through the Python API), and tokens."""

    base: str
    db: Database = dataclasses.field(repr=False)
    url: str = dataclasses.field(repr=False)  # the database's
    env: dict[str, str] = dataclasses.field(repr=False)
    proc: subprocess.Popen
    log: Path

    def __repr__(self) -> str:  # hypothesis prints its arguments: not the environment
        return f"Api({self.base})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None,
             **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}},
                          headers=headers, timeout=60, **kwargs)

    def gql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """The response's data; fails the test on any error."""
        r = self.post(query, variables, token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def error(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """The response's one error (message and extensions); fails the test when there is none."""
        r = self.post(query, variables, token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.get("errors"), body
        return body["errors"][0]

    def token(self, kind: str, agent: str | None = None) -> str:
        return tokens.create(self.db, kind, agent=agent).token

    def team(self) -> str:
        """A team of this test's own, so that its claims meet only its own tasks."""
        name = f"t{next(_teams)}_{uuid.uuid4().hex[:6]}"
        teams.create(self.db, name)
        return name

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    return start_cli(["serve", "--port", str(port)], env, log)


@pytest.fixture(scope="module")
def api(server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with served_board(server_url, template_db, tmp_path_factory.mktemp("api"), "api-test",
                      {"PHOENIX_LEASE_SECONDS": "30"}) as s:
        yield Api(s.base, s.db, s.url, s.env, s.proc, s.log)


@pytest.fixture
def api_sql(api: Api) -> Iterator[psycopg.Connection]:
    """A plain connection to the module's database, for checks the board's API does not offer."""
    with psycopg.connect(api.url, autocommit=True, row_factory=dict_row) as conn:
        yield conn
