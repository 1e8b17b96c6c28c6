"""The root ``phoenix-board`` command: mounts each part's commands and holds the one error handler.

A :class:`BoardError` prints ``error: <one line>`` on stderr and exits 1; ``-v`` adds the traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from phoenix_board import __version__
from phoenix_board.board import commands as board_commands
from phoenix_board.board import errors, render
from phoenix_board.metrics import bench as metrics_bench
from phoenix_board.metrics import commands as metrics_commands
from phoenix_board.board import bench as board_bench
from phoenix_board.board import bench_delegation  # noqa: F401 - registers `bench delegation`
from phoenix_board.board import bench_dependents  # noqa: F401 - registers `bench dependents`
from phoenix_board.scheduler import bench as scheduler_bench
from phoenix_board.scheduler import schedule
from phoenix_board.workers import app as workers_app
from phoenix_board.workers import broker
from phoenix_board.workers import commands as worker_commands
from phoenix_board.workers import events as worker_events
from phoenix_board.workers import handlers
from phoenix_board.api import cli as api_cli
from phoenix_board.api import bench as api_bench
from phoenix_board.api import tokens_cli as api_tokens_cli

app = typer.Typer(
    name="phoenix-board",
    help="A task board for fleets of software agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # click's plain help: Typer's boxed help labels every flag "<bool>", marks no required option
    # and folds long choice lists mid-word
    rich_markup_mode=None,
)
board_commands.mount(app)
board_commands.handled_categories = handlers.categories
worker_commands.mount(app)
metrics_commands.mount(app)
worker_events.mount(app)
app.command("beat")(schedule.beat_cmd(workers_app.make_app, broker.broker_url))
board_bench.app.command("beat")(scheduler_bench.beat_cmd)
board_bench.app.command("scrape")(metrics_bench.scrape_cmd)
app.command("serve")(api_cli.serve)  # the HTTP and GraphQL API (api/cli.py)
app.add_typer(api_tokens_cli.tokens_app, name="tokens")  # the HTTP API's tokens (api/tokens_cli.py)
board_bench.app.command("api")(api_bench.api_cmd)  # the HTTP API's benchmark (api/bench.py)

_verbose = False


def _print_version(value: bool) -> None:
    # eager: handled while parsing, before click asks for the command that --version replaces
    if value:
        typer.echo(f"phoenix-board {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    global _verbose
    _verbose = verbose
    # timestamped: the long-running parts (workers, beat, exporter, relay) append to one log per part
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    try:
        # standalone mode: usage errors print their message and exit 2, as click does
        app(args=argv)
    except errors.BoardError as exc:
        if _verbose:
            import traceback

            traceback.print_exc()
        # messages may quote what a user typed: shown inert, like every other output
        print(f"error: {render.plain(exc.message)}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
