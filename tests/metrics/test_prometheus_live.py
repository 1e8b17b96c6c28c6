"""A real Prometheus on loopback scrapes the exporter on a real board and evaluates our rules."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from phoenix_board.board.settings import Settings
from phoenix_board.metrics import exporter
from phoenix_board.scheduler import jobs
from tests.factories import make_task

RULES = Path(__file__).resolve().parents[2] / "metrics" / "prometheus" / "alerts.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]


def until(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed (.ci/run installs Debian's)")
def test_prometheus_scrapes_the_exporter_and_evaluates_the_rules(db, tmp_path):
    for _ in range(3):
        make_task(db, team="iota")  # open work and no agent at all: NoActiveAgents must start pending
    jobs.run(db, "snapshot", lambda: jobs.snapshot(db))
    exporter_port, prom_port = free_port(), free_port()
    server, _ = exporter.serve(db, Settings(redis_url=None), exporter_port, "127.0.0.1")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}']\n"
        "scrape_configs:\n"
        f"  - job_name: phoenix\n    honor_labels: true\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = until(lambda: api(prom_port, "query", query='phoenix_tasks{team="iota",status="open"}')["result"],
                       60, "the exporter's series in Prometheus")
        assert float(result[0]["value"][1]) == 3
        assert until(lambda: api(prom_port, "query", query='phoenix_consciousness_current{team="global"}')["result"],
                     30, "consciousness")
        alerts = until(lambda: [a for a in api(prom_port, "alerts")["alerts"]
                                if a["labels"]["alertname"] == "NoActiveAgents"], 30, "NoActiveAgents")
        assert alerts[0]["labels"]["team"] == "iota" and alerts[0]["state"] == "pending"  # its `for` is 5 m
        groups = api(prom_port, "rules")["groups"]
        assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        server.shutdown()
