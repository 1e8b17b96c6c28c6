"""`phoenix-board bench board` at a tiny size: it seeds, measures every phase, reports every figure
and drops its scratch database. It asserts no timing (DESIGN.md, "Performance")."""

from __future__ import annotations

import psycopg
import pytest

from phoenix_board.harness.bench import board as bench
from phoenix_board.harness.bench import wal
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database

RATES = ("claim_complete_per_s", "bare_claim_complete_per_s", "claim_ratio", "votes_per_s")
LATENCIES = ("hot_page_p50_ms", "hot_page_p99_ms", "hot_page_varied_p50_ms", "hot_page_varied_p99_ms")
WAL = ("wal_bytes_per_task", "bare_wal_bytes_per_task", "index_inserts_per_task", "bare_index_inserts_per_task",
       "wal_records_per_task", "lifecycle_wal_bytes_per_task", "bare_lifecycle_wal_bytes_per_task")
CPU = ("client_cpu_ms_per_task", "server_cpu_ms_per_task", "bare_client_cpu_ms_per_task",
       "bare_server_cpu_ms_per_task", "cpu_ratio")
CONTEXT = ("tasks", "agents", "seconds", "postgres_version", "cpu_count", "python", "seed_seconds", "claim_runs")


@pytest.mark.slow
def test_bench_reports_every_figure_and_cleans_up(server_url):
    result = bench.run(server_url, bench.Config(tasks=2_000, agents=20, seconds=1, pages=100))

    for key in (*RATES, *LATENCIES, *CONTEXT, *WAL, *CPU, "wal_costs", "votes_exact", "targets", "targets_met"):
        assert key in result, key
    for key in (*RATES, *LATENCIES):
        assert result[key] > 0, key
    assert result["votes_exact"] is True
    assert (result["tasks"], result["agents"]) == (2_000, 20)
    assert [r["kind"] for r in result["claim_runs"]] == ["bare", "board", "bare", "board"]
    assert set(result["targets"]) == {"claim_ratio", "hot_page_p99_ms", "votes_exact", "wal_bytes_per_task"}
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    # the tests' server lets pg_walinspect in: every figure is there, and the board writes more than
    # the bare queue it is compared with, step by step
    costs = result["wal_costs"]
    assert costs["method"] == "pg_walinspect"
    assert set(costs["board"]) == {"submit", "claim", "start", "renew", "result", "relay"}
    assert set(costs["bare"]) == {"submit", "claim", "complete"}
    for key in WAL:
        assert result[key] > 0, key
    assert result["wal_bytes_per_task"] > result["bare_wal_bytes_per_task"]
    assert result["bare_index_inserts_per_task"] == 2  # each update of the bare row: its primary key only
    # every step names where its bytes went, and the task's own rows are among them
    assert "phoenix.tasks" in costs["board"]["claim"]["relations"]
    assert "phoenix.task_events" in costs["board"]["result"]["relations"]
    assert all(fig["relations"] for fig in costs["board"].values())
    # a renewal is measured apart (whether it is a HOT update depends on the room left on its page,
    # which a long transaction anywhere on the server keeps from being pruned: tests/board/test_call_costs.py
    # holds the rule that makes it possible)
    assert result["renew_wal_bytes_without_fpi_per_task"] > 0 and result["renew_hot_updates_per_task"] > 0
    assert "phoenix.tasks" in costs["board"]["renew"]["relations"]
    # the relay's share of those tasks is measured apart: its writes are the outbox's and nothing else's
    assert result["relay_wal_bytes_without_fpi_per_task"] > 0 and result["relay_index_inserts_per_task"] > 0
    assert {r for r, fig in costs["board"]["relay"]["relations"].items() if fig["heap_updates"] or fig["index_inserts"]} \
        <= {"phoenix.outbox", "phoenix.outbox_stream_idx", "phoenix.outbox_unassigned_idx"}
    # the tests' server runs on this host: both sides' CPU is read, the client's and the server's
    # (/proc counts in ticks of 10 ms: a board run on this tiny board may finish too few tasks to
    # read more than 0; the bare runs finish thousands)
    for key in CPU:
        assert key == "cpu_ratio" or (result[key] is not None and result[key] >= 0), key
    assert result["bare_client_cpu_ms_per_task"] > 0 and result["bare_server_cpu_ms_per_task"] > 0
    # every run that finished work has its own; one that found none (this tiny board runs dry) has None
    for r in result["claim_runs"]:
        per_task = (r["client_cpu_ms_per_task"], r["server_cpu_ms_per_task"])
        assert all(v is not None and v >= 0 for v in per_task) if r["done"] else per_task == (None, None), r
    with psycopg.connect(server_url, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (result["database"],)).fetchone()
    assert left is None


def test_cpu_figures_are_none_where_the_server_cpu_cannot_be_read():
    """A server on another host: the client's CPU is still reported, the server's and the ratio are
    None rather than a guess."""
    board = bench.Run("board", 100, 1.0, False, {"client": 0.05, "server": None})
    bare = bench.Run("bare", 400, 1.0, False, {"client": 0.08, "server": None})
    figures = bench.cpu_figures(board, bare)
    assert figures["client_cpu_ms_per_task"] == 0.5 and figures["bare_client_cpu_ms_per_task"] == 0.2
    assert figures["server_cpu_ms_per_task"] is None and figures["cpu_ratio"] is None
    local = bench.cpu_figures(bench.Run("board", 100, 1.0, False, {"client": 0.05, "server": 0.15}),
                              bench.Run("bare", 400, 1.0, False, {"client": 0.08, "server": 0.12}))
    assert local["cpu_ratio"] == 0.25  # (0.2 + 0.3) / (0.5 + 1.5) ms per task


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


def test_wal_costs_without_pg_walinspect_fall_back_to_the_lsn_distance(server_url):
    """Where pg_walinspect cannot be used, a step still reports its bytes (the server's whole WAL
    between the two positions), with no breakdown and no index inserts rather than a wrong figure."""
    ui = Ui(None)
    with scratch_database(server_url, keep=False, ui=ui) as (_name, url):
        with database(url, min_size=1, max_size=2) as db:
            db.execute("bench_bare_create")
            step = wal.measure(db, False, lambda: [db.execute("bench_bare_submit", id=i) for i in range(20)])
            inspected = wal.measure(db, wal.inspectable(db), lambda: [db.execute("bench_bare_submit", id=i) for i in range(20, 40)])
    assert step.relations == {}
    assert step.totals()["bytes"] > 0 and step.totals()["index_inserts"] == 0
    assert inspected.relations["bench_bare"]["heap_inserts"] == 20
    assert inspected.relations["bench_bare_pkey"]["index_inserts"] == 20
