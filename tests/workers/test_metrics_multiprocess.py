"""Agents' own counts reach /metrics through prometheus-client's multiprocess mode, and survive a
pool process that is killed and replaced."""

from __future__ import annotations

import signal

from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.workers.conftest import wait_for


def wake_count(directory) -> float:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == "phoenix_wake_latency_seconds_count" and sample.labels.get("team") == "iota":
                return sample.value
    return 0.0


def test_worker_counts_survive_a_killed_pool_process(pools, client, sql, tmp_path):
    directory = tmp_path / "multiproc"
    directory.mkdir()
    proc = pools.start("iota", agents=2, PROMETHEUS_MULTIPROC_DIR=str(directory))
    for i in range(30):
        client.submit({"title": f"m{i}", "team": "iota", "category": "noop"})
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 30,
             what="completions")
    assert wake_count(directory) == 30
    victim = pools.children(proc)[0]
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: len(pools.children(proc)) == 2 and victim.pid not in [c.pid for c in pools.children(proc)],
             what="a replacement")
    for i in range(10):
        client.submit({"title": f"n{i}", "team": "iota", "category": "noop"})
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 40,
             what="completions after the kill")
    assert wake_count(directory) == 40  # the killed process's counts are still there
