"""`phoenix-board bench prune` at a small size: every figure is reported, the prune deleted what
the baseline did, and the chains verify after it. It asserts no timing (DESIGN.md, "Performance")."""

from __future__ import annotations

from phoenix_board.harness.bench import prune as bench_prune


def test_bench_prune_reports_every_figure(server_url):
    result = bench_prune.run(server_url, 100, 30)
    assert result["prune"]["tasks"] == result["tasks"] == 100
    assert result["prune"]["rows"] == result["baseline"]["rows"] == 700  # task, 4 events, interaction, comment
    assert result["prune"]["batches"] >= 4  # 30 trees a batch
    for side in ("prune", "baseline"):
        assert result[side]["rows_per_s"] > 0 and result[side]["longest_lock_ms"] > 0, side
    assert result["ratio"] > 0 and result["audit_ok"] is True
    assert isinstance(result["target"]["met"], bool)
