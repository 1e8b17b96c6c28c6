"""A worker host serves its agents' own metrics by default, on every address, with no
PROMETHEUS_MULTIPROC_DIR to set up: Prometheus on another host can scrape it (docs/operations/metrics.md)."""

from __future__ import annotations

import urllib.request

import psutil
from prometheus_client.parser import text_string_to_metric_families
import pytest

from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def wake_count(port: int) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return -1.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "phoenix_wake_latency_seconds_count" and sample.labels.get("team") == "iota":
                return sample.value
    return 0.0


def test_a_worker_serves_its_agents_metrics_on_all_addresses_by_default(pools, client, sql):
    port = free_port()
    pools.env = {k: v for k, v in pools.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = pools.start("iota", agents=2, PHOENIX_WORKER_METRICS_PORT=str(port))
    for i in range(5):
        client.submit({"title": f"m{i}", "team": "iota", "category": "noop"})
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 5,
             what="completions")
    wait_for(lambda: wake_count(port) == 5, what="the pool's wake-ups on its metrics port")
    listening = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    assert listening and listening[0].ip in ("0.0.0.0", "::"), listening  # reachable from other hosts


def test_a_second_pool_on_a_taken_port_warns_and_works(pools, client, sql):
    port = free_port()
    pools.start("iota", agents=1, name="first", PHOENIX_WORKER_METRICS_PORT=str(port))
    wait_for(lambda: wake_count(port) >= 0, what="the first pool's metrics port")
    pools.start("alpha_delta", agents=1, name="second", PHOENIX_WORKER_METRICS_PORT=str(port))
    client.submit({"title": "still works", "team": "alpha_delta", "category": "noop"})
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 1,
             what="the second pool's completion")
    assert f"port {port} is taken" in pools.log("second")
