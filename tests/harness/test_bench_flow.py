"""`phoenix-board bench flow` at a small size: every figure is reported, and the rate limit is
never exceeded (exact by construction: the claims' own times, not a timing). It asserts no
throughput (DESIGN.md, "Performance")."""

from __future__ import annotations

from phoenix_board.harness.bench import flow as bench_flow


def test_bench_flow_reports_every_figure(server_url):
    result = bench_flow.run(server_url, threads=1, seconds=1, rounds=1, keys=2, rate=600)
    for key in ("baseline_claims_per_s", "gated_claims_per_s", "ratio", "rate_claims"):
        assert result[key] > 0, key
    assert result["rate_over_limit"] is False
    assert isinstance(result["target"]["ratio_met"], bool) and isinstance(result["target"]["rate_error_met"], bool)
