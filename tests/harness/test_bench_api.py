"""`bench api` at a tiny size: it runs end to end (seed, its own Valkey, relay and server, HTTP
agents, websocket subscribers) and prints every key with its baseline and target; every
subscriber got every timed task. Figures are not judged here (no timing assertions)."""

from __future__ import annotations

import math

import psycopg
import pytest

from phoenix_board.harness.bench import api as bench


@pytest.mark.slow
def test_bench_api_prints_its_figures(server_url):
    # the supply of open work is capped at half the board: 10,000 tasks leave the claim team about
    # 1,600, more than two warm-ups and two half-second runs take on a quiet machine (at 5,000 the
    # Python run could drain the team and leave the HTTP run none)
    result = bench.run(server_url, bench.Config(tasks=10_000, agents=20, seconds=0.5, rounds=1, pages=50,
                                                subscribers=10, events=3))
    for key in ("board_page_p99_ms", "python_page_p99_ms", "claim_result_per_s", "python_claim_result_per_s",
                "ratio", "subscription_p99_ms", "stream_p99_ms", "server_rss_mb"):
        assert isinstance(result[key], float) and not math.isnan(result[key]), key
    assert result["subscription_deliveries"] == result["subscription_expected"] == 30
    assert set(result["targets"]) == set(bench.TARGETS)
    assert all(run["done"] > 0 for run in result["claim_runs"]), result["claim_runs"]
    with psycopg.connect(server_url, autocommit=True) as conn:  # its scratch database is gone
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (result["database"],)).fetchone() is None
