"""The whole `bench` group, loaded by the command line's one lazy entry (cli/__init__.py) only when
`bench` runs. Its commands still live beside what each measures (board, workers, scheduler,
metrics); this module gathers them until the harness has a package of its own (issue 14)."""

from __future__ import annotations

from phoenix_board.board import bench, bench_delegation, bench_dependents  # noqa: F401 - these two add their commands
from phoenix_board.metrics import bench as metrics_bench
from phoenix_board.scheduler import bench as scheduler_bench
from phoenix_board.workers import bench as workers_bench
from phoenix_board.workers import faults

bench_app = bench.app
bench_app.command("e2e")(workers_bench.e2e_cmd)
bench_app.command("faults")(faults.faults_cmd)
bench_app.command("beat")(scheduler_bench.beat_cmd)
bench_app.command("scrape")(metrics_bench.scrape_cmd)
