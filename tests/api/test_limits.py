"""The per-token rate limit and the body size limit (api/limits.py) on a real server process with
small limits: 429 with Retry-After and RATE_LIMITED, per token; 413 for a declared or a streamed
body over the limit; probes never limited; a refused request writes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from phoenix_board.api import tokens
from phoenix_board.board.db import Database
from tests.api.conftest import start_server
from tests.conftest import free_port, stop_cli, wait_ready
from tests.conftest import _database

BURST = 3
MAX_BODY = 2048
QUERY = {"query": "{ teams { name } }"}


@pytest.fixture(scope="module")
def server(server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    tmp: Path = tmp_path_factory.mktemp("limits")
    with _database(server_url, template_db) as url, Database(url, min_size=1, max_size=2, name="limits-test") as db:
        # a refill of one request in 100 s: within a test, a bucket only empties
        env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp / "data"),
               "PHOENIX_API_RATE_PER_SECOND": "0.01", "PHOENIX_API_RATE_BURST": str(BURST),
               "PHOENIX_API_MAX_BODY_BYTES": str(MAX_BODY)}
        env.pop("PHOENIX_REDIS_URL", None)  # no Redis: subscriptions are off, the rest serves
        port = free_port()
        log = tmp / "server.log"
        proc = start_server(env, log, port)
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc, log)
            yield f"http://127.0.0.1:{port}", db
        finally:
            stop_cli(proc)


def _post(base: str, token: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


def test_a_token_over_its_rate_gets_429_with_retry_after(server):
    base, db = server
    token, other = tokens.create(db, "reader").token, tokens.create(db, "reader").token
    answers = [_post(base, token, json=QUERY) for _ in range(BURST + 1)]
    assert [r.status_code for r in answers] == [200] * BURST + [429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert _post(base, other, json=QUERY).status_code == 200  # a bucket per token
    for _ in range(BURST + 2):  # probes and scrapes always get through
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200


def test_a_body_over_the_limit_gets_413_and_writes_nothing(server):
    base, db = server
    before = db.fetch_sql("SELECT count(*) AS n FROM phoenix.tasks")[0]["n"]
    big = ('{"query": "mutation { createTask(input: {title: \\"x\\", team: \\"iota\\", description: \\"'
           + "y" * MAX_BODY + '\\"}) { created } }"}').encode()
    declared = httpx.post(f"{base}/graphql", content=big, timeout=30,
                          headers={"Authorization": f"Bearer {tokens.create(db, 'operator').token}",
                                   "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        for i in range(0, len(big), 512):
            yield big[i:i + 512]

    streamed = httpx.post(f"{base}/graphql", content=chunks(), timeout=30,
                          headers={"Authorization": f"Bearer {tokens.create(db, 'operator').token}",
                                   "Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert db.fetch_sql("SELECT count(*) AS n FROM phoenix.tasks")[0]["n"] == before
    assert _post(base, tokens.create(db, "reader").token, json=QUERY).status_code == 200  # small bodies pass
