"""An operator may make reading public (PHOENIX_API_PUBLIC_READ): requests without a token read as a
reader does and write nothing; GraphiQL still wants a signed-in person."""

from __future__ import annotations

import httpx

from tests.api.conftest import start_server
from tests.conftest import free_port, stop_cli, wait_ready


def test_public_reading(api, tmp_path):
    port = free_port()
    log = tmp_path / "public.log"
    proc = start_server({**api.env, "PHOENIX_API_PUBLIC_READ": "true"}, log, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log)
        r = httpx.post(f"{base}/graphql", json={"query": "{ teams { name } }"}, timeout=30)
        assert r.status_code == 200 and {"name": "iota"} in r.json()["data"]["teams"], r.text
        q = "mutation { createTask(input: {title: \"t\", team: \"iota\"}) { created } }"
        r = httpx.post(f"{base}/graphql", json={"query": q}, timeout=30)
        assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        r = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fgraphql"
    finally:
        stop_cli(proc)
