"""`phoenix-board bench board` at a tiny size: it seeds, measures every phase, reports every figure
and drops its scratch database. It asserts no timing (DESIGN.md, "Performance")."""

from __future__ import annotations

import psycopg
import pytest

from phoenix_board.harness.bench import board as bench
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database

RATES = ("claim_complete_per_s", "bare_claim_complete_per_s", "claim_ratio", "votes_per_s")
LATENCIES = ("hot_page_p50_ms", "hot_page_p99_ms", "hot_page_varied_p50_ms", "hot_page_varied_p99_ms")
CONTEXT = ("tasks", "agents", "seconds", "postgres_version", "cpu_count", "python", "seed_seconds", "claim_runs")


@pytest.mark.slow
def test_bench_reports_every_figure_and_cleans_up(server_url):
    result = bench.run(server_url, bench.Config(tasks=2_000, agents=20, seconds=1, pages=100))

    for key in (*RATES, *LATENCIES, *CONTEXT, "votes_exact", "targets", "targets_met"):
        assert key in result, key
    for key in (*RATES, *LATENCIES):
        assert result[key] > 0, key
    assert result["votes_exact"] is True
    assert (result["tasks"], result["agents"]) == (2_000, 20)
    assert [r["kind"] for r in result["claim_runs"]] == ["bare", "board", "bare", "board"]
    assert set(result["targets"]) == {"claim_ratio", "hot_page_p99_ms", "votes_exact"}
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    with psycopg.connect(server_url, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (result["database"],)).fetchone()
    assert left is None


def test_seeded_board_keeps_the_board_invariants(server_url):
    """The seed respects what the board's functions keep: counts equal vote rows, nobody voted on
    their own task, every closed task has an executor, ranks come from phoenix.hot_rank."""
    config = bench.Config(tasks=3_000, agents=12, seconds=0.1)
    ui = Ui(None)
    with scratch_database(server_url, keep=False, ui=ui) as (_name, url):
        with database(url, min_size=1, max_size=2) as db:
            bench.seed(url, db, config, ui)
            with db.connection() as conn:
                counts = conn.execute(
                    """SELECT count(*) AS tasks,
                              count(*) FILTER (WHERE status = 'open') AS open,
                              count(*) FILTER (WHERE hot_score > 0) AS hot,
                              count(*) FILTER (WHERE status <> 'open' AND assigned_to IS NULL) AS orphaned,
                              count(*) FILTER (WHERE created_by = assigned_to) AS self_worked
                         FROM phoenix.tasks""").fetchone()
                mismatched = conn.execute(
                    """SELECT count(*) AS n FROM phoenix.tasks t
                         LEFT JOIN (SELECT task_id, count(*) FILTER (WHERE vote = 1) AS up,
                                           count(*) FILTER (WHERE vote = -1) AS down
                                      FROM phoenix.task_votes GROUP BY task_id) v ON v.task_id = t.id
                        WHERE (t.upvotes, t.downvotes) <> (coalesce(v.up, 0), coalesce(v.down, 0))""").fetchone()["n"]
                self_votes = conn.execute(
                    """SELECT count(*) AS n FROM phoenix.task_votes v JOIN phoenix.tasks t ON t.id = v.task_id
                        WHERE v.agent_id IN (t.created_by, t.assigned_to)""").fetchone()["n"]
    assert counts["tasks"] == 3_000
    assert counts["open"] == config.open_tasks
    assert counts["hot"] == config.recent_tasks
    assert (counts["orphaned"], counts["self_worked"], mismatched, self_votes) == (0, 0, 0, 0)
