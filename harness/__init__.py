"""The test harness: benchmarks, the fault rig and its ``probe`` handler, with their own SQL.

Nothing in the product (board, workers, scheduler, metrics, sql, the command line) imports this
package, except the one lazy entry that mounts ``bench`` on the command line when it is asked for
(``phoenix_board.harness.cli:bench_app``); tests/harness_boundary checks it. So no agent, beat or
exporter process loads a benchmark's code, its named queries or the probe handler.

* ``bench/``: ``phoenix-board bench board | delegation | dependents | e2e | beat | scrape``.
* ``faults/``: fault runs on real processes, ``python -m phoenix_board.harness.faults``.
* ``sql/``: the named queries only these two run (``queries.py`` loads them).
"""
