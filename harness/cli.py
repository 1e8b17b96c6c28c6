"""The harness's command lines: ``bench_app`` (every benchmark) and ``faults_app`` (the fault runs).

``phoenix-board bench ...`` mounts ``bench_app`` lazily: the root command names it only as the
string ``phoenix_board.harness.cli:bench_app`` and imports it when ``bench`` is asked for, so the
product never imports the harness (tests/harness_boundary). Fault runs are not benchmarks: they
run as ``python -m phoenix_board.harness.faults`` (``faults_app``), outside the product's command.
"""

from __future__ import annotations

import logging
import sys

import typer

from phoenix_board.board import errors
from phoenix_board.cli import render
from phoenix_board.harness.bench import agents, api, beat, board, delegation, dependents, e2e, flow, prune, scrape, web
from phoenix_board.harness.faults import scenarios

# plain click help and no completion commands, as the root command that mounts it
bench_app = typer.Typer(help="Benchmarks: figures and a baseline from the same run, as JSON or a table.",
                        no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                        rich_markup_mode=None)


@bench_app.callback()
def _bench() -> None:
    """Benchmarks: measured on a scratch database, with a baseline from the same run."""


# the one list of benchmarks
bench_app.command("board")(board.board_cmd)
bench_app.command("delegation")(delegation.delegation_cmd)
bench_app.command("dependents")(dependents.dependents_cmd)
bench_app.command("e2e")(e2e.e2e_cmd)
bench_app.command("beat")(beat.beat_cmd)
bench_app.command("scrape")(scrape.scrape_cmd)
bench_app.command("api")(api.api_cmd)
bench_app.command("prune")(prune.prune_cmd)
bench_app.command("web")(web.web_cmd)
bench_app.command("flow")(flow.flow_cmd)
bench_app.command("agents")(agents.agents_cmd)

faults_app = typer.Typer(name="phoenix_board.harness.faults", add_completion=False, pretty_exceptions_enable=False,
                         rich_markup_mode=None)
faults_app.command()(scenarios.faults_cmd)


def faults_main(argv: list[str] | None = None) -> None:
    """``python -m phoenix_board.harness.faults``: a BoardError is ``error: <one line>`` and exit 1,
    as on the product's command line."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        faults_app(args=argv, prog_name="python -m phoenix_board.harness.faults")
    except errors.BoardError as exc:
        print(f"error: {render.plain(exc.message)}", file=sys.stderr)
        sys.exit(exc.exit_code)
