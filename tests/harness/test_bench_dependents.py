"""`phoenix-board bench dependents` at a small size: every figure is reported (the scratch database
is harness/scratch.py's, tested with `bench board`). It asserts no timing (DESIGN.md,
"Performance")."""

from __future__ import annotations

from phoenix_board.harness.bench import dependents as bench_dependents


def test_bench_dependents_reports_every_figure(server_url):
    result = bench_dependents.run(server_url, 200, 10)
    for key in ("early_ms", "late_ms", "plain_early_ms", "plain_late_ms", "dependents_total_s", "growth"):
        assert result[key] > 0, key
    assert (result["dependents"], result["window"]) == (200, 10)
    assert isinstance(result["target"]["met"], bool)
