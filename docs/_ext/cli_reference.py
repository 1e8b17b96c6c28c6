"""The command-line reference's source: the root typer app as the click command sphinx-click reads.

The app is the only thing the docs read from the product (``typer.main.get_command(app)``); nothing
here knows the commands, so the reference cannot drift from the code. Typer 0.29 and later build
their commands on a copy of click of their own, which sphinx-click does not recognise, so the tree
is rebuilt as plain click objects (names, help, options, arguments, defaults: what the reference
shows). Help texts are written for a terminal (Rich), not for reStructuredText: they are escaped so
that a `*` or a backquote in them is text, not markup.
"""

from __future__ import annotations

import re

import click
import typer.main

from phoenix_board.cli import app as _app

_RST_SPECIAL = re.compile(r"([\\`*_|])")


def _param(p):
    if getattr(p, "param_type_name", "") == "argument" or type(p).__name__.endswith("Argument"):
        return click.Argument([p.name], required=p.required, nargs=p.nargs, metavar=p.metavar)
    decls = list(p.opts)
    if p.secondary_opts:  # --json/--no-json
        decls = [f"{decls[0]}/{p.secondary_opts[0]}", *decls[1:]]
    default = p.default if isinstance(p.default, (str, int, float, bool, type(None))) else None
    return click.Option(decls, help=p.help, required=p.required, is_flag=p.is_flag, multiple=p.multiple,
                        default=default, show_default=bool(p.show_default) and default not in (None, False),
                        hidden=p.hidden, metavar=p.metavar, count=p.count)


def _plain(cmd, name):
    kwargs = {"help": cmd.help, "short_help": cmd.short_help, "epilog": cmd.epilog, "hidden": cmd.hidden,
              "params": [_param(p) for p in cmd.params if p.name != "help"]}
    if not hasattr(cmd, "list_commands"):
        return click.Command(name, **kwargs)
    # asked by name, not read from .commands: a lazily loaded group (bench) has its commands only so
    return click.Group(name, commands={n: _plain(cmd.get_command(None, n), n) for n in cmd.list_commands(None)},
                       **kwargs)


command = _plain(typer.main.get_command(_app), "phoenix-board")


def _escape_line(line: str) -> str:
    # sphinx-click's own markup (directives, fields, ``defaults``, **Required**) stays; the prose is escaped
    if line.lstrip().startswith(("..", ":")) or "``" in line:
        return line
    head, sep, rest = line.partition("**Required**")
    if sep:
        return head + sep + _RST_SPECIAL.sub(r"\\\1", rest)
    return _RST_SPECIAL.sub(r"\\\1", line)


def _escape(app, ctx, lines):
    lines[:] = [_escape_line(line) for line in lines]


def setup(app):
    for event in ("description", "options", "arguments", "epilog"):
        app.connect(f"sphinx-click-process-{event}", _escape)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
