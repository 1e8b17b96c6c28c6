"""Agents' own counts reach /metrics through prometheus-client's multiprocess mode, and survive a
pool process that is killed and replaced."""

from __future__ import annotations

import signal

from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


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


def test_votes_are_counted_by_team(pools, client, sql, db, tmp_path):
    from tests.conftest import make_agent, make_task

    directory = tmp_path / "multiproc"
    directory.mkdir()
    pools.start("iota", agents=1, PROMETHEUS_MULTIPROC_DIR=str(directory))
    voter = make_agent(db, team="epsilon_zeta", codename="voter-1")
    task = make_task(db, team="alpha_delta", category="noop")  # no alpha_delta agent: it stays open
    client.vote(task.id, voter.codename, 1)
    wait_for(lambda: sql.execute("SELECT upvotes FROM phoenix.tasks WHERE id = %s", (task.id,)).fetchone()["upvotes"] == 1,
             what="the vote")

    def counted() -> bool:  # the pool process counts the vote just after its transaction commits
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))
        return 'phoenix_votes_total{team="epsilon_zeta"} 1.0' in generate_latest(registry).decode()

    wait_for(counted, what="the vote's count in the multiprocess directory")


def test_a_worker_serves_its_agents_metrics(pools, client, sql, tmp_path):
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tmp_path / "own"
    directory.mkdir()
    pools.start("iota", agents=2, extra=("--metrics-port", str(port)), PROMETHEUS_MULTIPROC_DIR=str(directory))
    for i in range(5):
        client.submit({"title": f"w{i}", "team": "iota", "category": "noop"})
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 5,
             what="completions")

    def scraped() -> str:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            return ""

    text = wait_for(lambda: (t := scraped()) and 'phoenix_wake_latency_seconds_count{team="iota"} 5.0' in t and t,
                    what="the worker's /metrics")
    assert "phoenix_db_query_duration_seconds_bucket" in text
