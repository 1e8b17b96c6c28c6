"""The e2e benchmark runs end to end at a tiny size (its figures are not asserted: no timing tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoenix_board.board.settings import Settings
from phoenix_board.harness.bench import e2e as bench
from tests.board.conftest import run_together

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_bench_e2e_prints_every_key(server_url, valkey, tmp_path: Path):
    settings = Settings(redis_url=valkey.url, data_dir=tmp_path / "data")
    result = bench.run(server_url, settings, agents=2, tasks=100, wake_samples=5, keep_logs=True)
    for key in ("lifecycle_per_s", "celery_noop_per_s", "ratio", "wake_p50_ms", "wake_p99_ms", "rss_mb_per_agent",
                "lifecycle_single_message_per_s", "single_message_to_batched",
                "single_message_submissions_per_transaction"):
        assert result[key] > 0, key
    assert result["wake_p50_ms"] <= result["wake_p99_ms"]
    # every submission of the single-message run was written by some transaction, none by two
    assert 1 <= result["single_message_submissions_per_transaction"] <= 100
    assert set(result["targets"]) == {"ratio >= 1.0", "ratio >= 1.5 (goal)", "wake_p99_ms <= 25",
                                      "single_message_to_batched >= 0.5"}
    # CPU per task by part: all on this host but the broker, a Redis given by URL, whose process is
    # not the bench's to read; so no cpu_ratio either, rather than one that leaves the broker out
    for side in ("lifecycle", "celery_noop"):
        parts = result["cpu_ms_per_task"][side]
        assert set(parts) == {"sender", "database", "broker", "workers"}, parts
        assert parts["sender"] > 0 and parts["workers"] > 0 and parts["broker"] is None, parts
    assert result["cpu_ms_per_task"]["lifecycle"]["database"] > 0
    assert result["cpu_ratio"] is None
    # the baseline worker registers Celery's no-op once (it used to be its own __main__ as well)
    [folder] = (tmp_path / "data" / "bench").iterdir()  # the run's own folder, kept as asked
    baseline_log = (folder / "baseline.log").read_text(errors="replace")
    assert baseline_log and "DuplicateTaskNameWarning" not in baseline_log


def test_two_runs_at_once_on_one_host_share_nothing_and_leave_nothing(server_url, tmp_path: Path):
    """Each run has a folder of its own for its pool's data dir, its Valkey and its logs: with one
    folder, the second run's pool was refused the first's agent names and the run failed."""
    settings = Settings(data_dir=tmp_path / "data")  # no broker given: each run starts its own Valkey
    results = run_together([lambda: bench.run(server_url, settings, agents=2, tasks=100, wake_samples=5, rounds=1)
                            for _ in range(2)], timeout=600)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(r["lifecycle_per_s"] > 0 and r["celery_noop_per_s"] > 0 for r in results)
    # each run's own Valkey is read as its broker part: every part is measured (/proc counts in
    # ticks of 10 ms, so a small part of 100 tasks may read 0), and so is the ratio
    for r in results:
        cpu = r["cpu_ms_per_task"]
        assert all(ms is not None and ms >= 0 for side in cpu.values() for ms in side.values()), cpu
        assert cpu["lifecycle"]["database"] > 0 and cpu["lifecycle"]["workers"] > 0, cpu
        assert r["cpu_ratio"] > 0
    assert list((tmp_path / "data" / "bench").iterdir()) == []  # removed after runs that succeeded
