"""`bench web` at a tiny size: it runs end to end (seed, its own Valkey, relay and server, the
pages, the API's baselines, completions watched over the websocket) and prints every key with
its baseline and target. Figures are not judged here (no timing assertions)."""

from __future__ import annotations

import math

import psycopg
import pytest

from phoenix_board.harness.bench import web as bench


@pytest.mark.slow
def test_bench_web_prints_its_figures(server_url):
    result = bench.run(server_url, tasks=2_000, calls=10, completed=3)
    for key in ("board_page_p99_ms", "api_board_p99_ms", "task_page_p99_ms", "api_task_p99_ms", "page_weight_kb",
                "completion_to_page_p99_ms", "completion_event_p99_ms"):
        assert isinstance(result[key], float) and not math.isnan(result[key]), key
    assert result["completions"] == 3
    assert set(result["targets"]) == set(bench.TARGETS)
    with psycopg.connect(server_url, autocommit=True) as conn:  # its scratch database is gone
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (result["database"],)).fetchone() is None
