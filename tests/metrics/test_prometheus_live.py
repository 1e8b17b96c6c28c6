"""A real Prometheus, started with the shipped configuration exactly as the "without Docker" recipe
(docs/operations/deployment.md) runs it, scrapes the exporter on a real board and evaluates our rules; `doctor`
shows what it holds (the one definition of every alert)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from phoenix_board.board import errors
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import alerting, exporter
from phoenix_board.scheduler import jobs
from tests.conftest import free_port, make_task

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "metrics" / "prometheus"
RUNBOOK_BASE = "https://runbooks.example.org/phoenix"


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


def shipped_config_with_targets(folder: Path, exporter_port: int) -> Path:
    """The shipped prometheus.yml and alerts.yml, linked (not copied) into a folder whose targets/
    lists this test's exporter, as an operator's targets files list their hosts."""
    for name in ("prometheus.yml", "alerts.yml"):
        (folder / name).symlink_to(PROMETHEUS_DIR / name)
    targets = folder / "targets"
    targets.mkdir()
    (targets / "exporter.yml").write_text(f'- targets: ["127.0.0.1:{exporter_port}"]\n')
    (targets / "agents.yml").write_text("[]\n")
    (targets / "alertmanager.yml").write_text("[]\n")
    return folder / "prometheus.yml"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed (.ci/run installs Debian's)")
def test_prometheus_scrapes_the_exporter_and_evaluates_the_rules(db, url, tmp_path):
    for _ in range(3):
        make_task(db, team="iota")  # open work and no agent at all: NoActiveAgents must start pending
    jobs.run(db, "snapshot", lambda: jobs.snapshot(db))
    exporter_port, prom_port = free_port(), free_port()
    server, _ = exporter.serve(db, Settings(redis_url=None), exporter_port, "127.0.0.1")
    config = shipped_config_with_targets(tmp_path, exporter_port)
    log = (tmp_path / "prometheus.log").open("w")
    # the docs' recipe, with a test's port, data folder and a 1 s scrape (the shipped 15 s would
    # make the test wait); --config.file is the shipped file itself
    prom = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}", "--enable-feature=expand-external-labels",
                             f"--web.external-url=http://127.0.0.1:{prom_port}"],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PHOENIX_RUNBOOK_BASE_URL": RUNBOOK_BASE})
    try:
        until(lambda: [t for t in api(prom_port, "targets")["activeTargets"] if t["labels"]["job"] == "phoenix"],
              60, "the exporter's target from targets/exporter.yml")
        # the shipped scrape interval is 15 s: wait for the first scrape rather than change the file
        result = until(lambda: api(prom_port, "query", query='phoenix_tasks{team="iota",status="open"}')["result"],
                       60, "the exporter's series in Prometheus")
        assert float(result[0]["value"][1]) == 3
        assert result[0]["metric"]["job"] == "phoenix"
        beat = api(prom_port, "query", query="phoenix_beat_job_last_success_timestamp_seconds")["result"]
        assert {r["metric"]["beat_job"] for r in beat} == {"snapshot"}
        assert {r["metric"]["job"] for r in beat} == {"phoenix"}  # the target's job, no honor_labels needed
        alerts = until(lambda: [a for a in api(prom_port, "alerts")["alerts"]
                                if a["labels"]["alertname"] == "NoActiveAgents"], 60, "NoActiveAgents")
        assert alerts[0]["labels"]["team"] == "iota" and alerts[0]["state"] == "pending"  # its `for` is 5 m
        assert alerts[0]["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}/operations/runbooks/noactiveagents.html"
        # BeatNotRunning sees the snapshot job's success, neither stale nor absent, once an evaluation
        # follows the first scrape (one before it may have found the series absent)
        until(lambda: not [a for a in api(prom_port, "alerts")["alerts"] if a["labels"]["alertname"] == "BeatNotRunning"],
              60, "BeatNotRunning to see the beat_job=snapshot series")
        # a group whose first evaluation has not come yet reports "unknown" (groups start at staggered
        # offsets, later on a loaded machine): wait for every rule's first verdict, then require "ok"
        rules = until(lambda: (lambda rs: rs if all(r["health"] != "unknown" for r in rs) else None)(
            [rule for group in api(prom_port, "rules")["groups"] for rule in group["rules"]]),
            90, "every rule's first evaluation")
        bad = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not bad, bad

        # doctor shows Prometheus' alert, the one definition, instead of evaluating its own
        seen = alerting.active(f"http://127.0.0.1:{prom_port}")
        # (with no agent the global consciousness may sit below its threshold too: pending as well)
        assert ("NoActiveAgents", "pending") in [(a.name, a.state) for a in seen]
        assert all(a.state == "pending" for a in seen), seen
        env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "board"),
               "PHOENIX_PROMETHEUS_URL": f"http://127.0.0.1:{prom_port}", "COLUMNS": "200"}
        env.pop("PHOENIX_REDIS_URL", None)
        doctor = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "doctor"], capture_output=True,
                                text=True, env=env, cwd=tmp_path, timeout=60)
        assert "alert NoActiveAgents" in doctor.stdout and "pending critical" in doctor.stdout, doctor.stdout
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        log.close()
        server.shutdown()


def test_doctor_says_in_one_line_when_prometheus_is_away():
    with pytest.raises(errors.Unavailable) as caught:
        alerting.active(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert "cannot read alerts from Prometheus" in caught.value.message and "\n" not in caught.value.message
