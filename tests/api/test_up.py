"""`up` starts the API beside the agents: its URL is in the status and in up's line, it answers
a token made with `tokens create`, and an agent token acts through the agents' own login."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import wait_for
from tests.uprun import Up, clean_env, run

pytestmark = pytest.mark.slow


def test_up_serves_the_api_and_says_where(tmp_path):
    env = clean_env(tmp_path)
    up = Up(tmp_path, env)
    try:
        up.wait_ready()
        url = up.status()["record"]["urls"]["api"]
        assert url == f"http://127.0.0.1:{env['PHOENIX_API_PORT']}/graphql"
        assert f"API {url}" in up.output()
        base = url.removesuffix("/graphql")
        wait_for(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, what="the API to be ready")
        made = run(["tokens", "create", "--operator"], env, tmp_path)
        assert made.returncode == 0, made.stderr
        token = next(w for w in made.stdout.split() if w.startswith("pbt_"))
        r = httpx.post(url, json={"query": "{ agents(team: \"iota\") { codename } }"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200 and r.json()["data"]["agents"], r.text
        # an agent token goes through the agents' own login (workers/logins.py), which up gave the API
        codename = r.json()["data"]["agents"][0]["codename"]
        made = run(["tokens", "create", "--agent", codename], env, tmp_path)
        assert made.returncode == 0, made.stderr
        agent_token = next(w for w in made.stdout.split() if w.startswith("pbt_"))
        r = httpx.post(url, json={"query": "mutation { heartbeat { codename } }"},
                       headers={"Authorization": f"Bearer {agent_token}"}, timeout=30)
        assert r.status_code == 200 and r.json()["data"]["heartbeat"]["codename"] == codename, r.text
    finally:
        up.ctrl_c()
        up.proc.wait(timeout=120)
