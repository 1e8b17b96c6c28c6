"""The root ``phoenix-board`` command: THE list of its commands, and the one error handler.

Every command and group is named once, in :data:`COMMANDS`, and lives in one module of this
package (a group's subcommands are declared in its module, as ``celery/bin/`` does). A
:class:`BoardError` prints ``error: <one line>`` on stderr and exits 1; ``-v`` adds the traceback.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from phoenix_board import __version__
from phoenix_board.board import errors
from phoenix_board.cli import (
    agents,
    audit,
    beat,
    bulk,
    db,
    events,
    flow,
    hormones,
    members,
    metrics,
    operator,
    queue,
    render,
    schedules,
    serve,
    tasks,
    teams,
    tokens,
    up,
    workers,
)


class LazyGroup(TyperGroup):
    """A group whose module is imported only when the group is used (run, or asked for its help or
    its commands): ``phoenix-board --help`` lists it from its name and help alone. For the
    benchmarks, which the product never imports otherwise."""

    def __init__(self, target: str, help: str) -> None:
        super().__init__(name=None, help=help, rich_markup_mode=None)
        self.target = target  # "package.module:attribute", a Typer app

    @functools.cached_property
    def loaded(self) -> Any:
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        # built as the root builds its own groups, so help and errors read the same
        holder = _typer()
        holder.add_typer(found, name=self.name)
        return typer.main.get_command(holder).get_command(None, self.name)  # type: ignore[attr-defined,arg-type]

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        return self.loaded.make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: Any) -> list[str]:
        return self.loaded.list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return self.loaded.get_command(ctx, cmd_name)

    def get_help(self, ctx: Any) -> str:
        return self.loaded.get_help(ctx)


# Every command and group of `phoenix-board`, in the order `--help` lists them: (name, what runs
# it[, typer's settings for it]). A function is a command; a Typer app or a LazyGroup is a group.
COMMANDS: tuple[tuple[Any, ...], ...] = (
    ("migrate", operator.migrate_cmd),
    ("submit", tasks.submit),
    ("board", tasks.board),
    ("show", tasks.show),
    # a direction of -1 is a value, not an option: unknown "options" go to the arguments
    ("vote", tasks.vote, {"context_settings": {"ignore_unknown_options": True}}),
    ("comment", tasks.comment),
    ("workers", workers.workers),
    ("up", up.up),
    ("status", workers.status),
    ("down", workers.down),
    ("metrics", metrics.metrics),
    ("doctor", operator.doctor),
    ("beat", beat.beat),
    ("agents", agents.app),
    ("teams", teams.app),
    ("flow", flow.app),
    ("task", tasks.task_app),
    ("tasks", bulk.tasks_app),
    ("members", members.app),
    ("hormones", hormones.app),
    ("db", db.app),
    ("audit", audit.app),
    ("bench", LazyGroup("phoenix_board.harness.cli:bench_app",
                        help="Benchmarks: figures and a baseline from the same run, as JSON or a table.")),
    ("queue", queue.app),
    ("events", events.app),
    ("serve", serve.serve),
    ("tokens", tokens.tokens_app),
    ("schedules", schedules.app),
)


class _Root(TyperGroup):
    """The root group: typer lists commands before groups; this lists them in COMMANDS' order and
    adds the lazy groups, which typer does not know."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, target, *_ in COMMANDS:
            if isinstance(target, LazyGroup):
                target.name = name
                self.commands[name] = target
        self.commands = {name: self.commands[name] for name, *_ in COMMANDS}


def _typer(cls: type[TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(
        cls=cls,
        name="phoenix-board",
        help="A task board for fleets of software agents.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        # click's plain help: Typer's boxed help labels every flag "<bool>", marks no required option
        # and folds long choice lists mid-word
        rich_markup_mode=None,
    )


app = _typer(_Root)
for name, target, *settings in COMMANDS:
    if isinstance(target, typer.Typer):
        app.add_typer(target, name=name, **(settings[0] if settings else {}))
    elif not isinstance(target, LazyGroup):
        app.command(name, **(settings[0] if settings else {}))(target)

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
