"""The root ``phoenix-board`` command: mounts each part's commands and holds the one error handler.

A :class:`BoardError` prints ``error: <one line>`` on stderr and exits 1; ``-v`` adds the traceback.

``bench`` is the one command group that lives outside the product, in the test harness: it is
named here only by its import path (``LAZY``) and imported when it is invoked, so that no
``phoenix-board`` process, agent, beat or exporter loads the harness otherwise.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from phoenix_board import __version__
from phoenix_board.board import commands as board_commands
from phoenix_board.board import errors, render
from phoenix_board.metrics import commands as metrics_commands
from phoenix_board.scheduler import schedule
from phoenix_board.workers import app as workers_app
from phoenix_board.workers import broker
from phoenix_board.workers import commands as worker_commands
from phoenix_board.workers import events as worker_events
from phoenix_board.workers import handlers

# command groups imported only when invoked: name -> ("module:typer app", one line of help)
LAZY = {
    "bench": ("phoenix_board.harness.cli:bench_app",
              "Benchmarks: figures and a baseline from the same run."),
}


class LazyGroup(TyperGroup):
    """The root group, with the ``LAZY`` groups listed in help but imported only when invoked."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY]

    def get_command(self, ctx: typer.Context, name: str) -> Any:
        if name not in LAZY:
            return super().get_command(ctx, name)
        module, attr = LAZY[name][0].split(":")
        group = typer.main.get_command(getattr(importlib.import_module(module), attr))
        group.name = name
        return group

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        # click asks each command for its help line, which would import the lazy ones: theirs is in LAZY
        commands = {}
        for name in super().list_commands(ctx):
            cmd = super().get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                commands[name] = cmd
        limit = formatter.width - 6 - max(map(len, [*commands, *LAZY]))
        rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands.items()]
        rows += [(name, help_line) for name, (_, help_line) in LAZY.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="phoenix-board",
    cls=LazyGroup,
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
