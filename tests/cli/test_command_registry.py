"""The command line has one registry (issue 14): every command and group is named once, in
``phoenix_board.cli.COMMANDS``; every command a module of the cli package declares is reachable
from that list and shown by ``--help``; no other product package declares a command (the
benchmarks, which ``bench`` loads lazily, are the harness's, not the product's)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
from typer.models import ArgumentInfo, OptionInfo

from phoenix_board import cli


def _help(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*args, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def _listed(text: str) -> list[str]:
    """The names under a help page's "Commands:" heading."""
    section = text.split("Commands:", 1)[1] if "Commands:" in text else ""
    return re.findall(r"^  (\S+)", section, re.M)


def _typers(app: typer.Typer, path: tuple[str, ...] = ()):
    """Every Typer app reachable from ``app`` by add_typer, with its command path."""
    yield path, app
    for group in app.registered_groups:
        yield from _typers(group.typer_instance, (*path, group.name))


def _cli_modules() -> list[object]:
    return [importlib.import_module(f"phoenix_board.cli.{m.name}") for m in pkgutil.iter_modules(cli.__path__)
            if not m.name.startswith("_")]


def test_the_root_help_lists_the_one_list_in_its_order(capsys):
    names = [name for name, *_ in cli.COMMANDS]
    assert len(names) == len(set(names)), "a command is named twice"
    assert _listed(_help(capsys=capsys)) == names


def test_every_group_shows_every_command_its_module_declares(capsys):
    registered = set()
    for path, app in _typers(cli.app):
        visible = [c.name for c in app.registered_commands if not c.hidden]
        registered |= {c.callback for c in app.registered_commands}
        if path:  # the root's own commands are checked against COMMANDS above
            assert _listed(_help(*path, capsys=capsys)) == visible, path
    # every module-level Typer app of the package is a group of the list
    groups = {id(app) for _, app in _typers(cli.app)}
    for module in _cli_modules():
        for name, value in vars(module).items():
            if isinstance(value, typer.Typer):
                assert id(value) in groups, f"{module.__name__}.{name} is not in cli.COMMANDS"
            # a function taking typer options is a command: it must be registered
            elif inspect.isfunction(value) and value.__module__ == module.__name__ and any(
                    isinstance(p.default, OptionInfo | ArgumentInfo)
                    for p in inspect.signature(value).parameters.values()):
                assert value in registered, f"{module.__name__}.{name} takes options but is no command"


def test_bench_is_loaded_only_when_used():
    lazy = [(name, target) for name, target, *_ in cli.COMMANDS if isinstance(target, cli.LazyGroup)]
    assert [name for name, _ in lazy] == ["bench"]
    module = lazy[0][1].target.partition(":")[0]
    probe = ("import sys\nfrom phoenix_board import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print({module!r} in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip().splitlines()[-1] == "False", ran.stderr
    ran = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "bench", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode == 0 and "board" in _listed(ran.stdout), ran.stderr


def _product_packages() -> list[str]:
    """The installed packages (pyproject's list), less the command line and the harness."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    packages = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"]
    return [p for p in packages if p != "phoenix_board" and not p.startswith(("phoenix_board.cli", "phoenix_board.harness"))]


def _lazily_loaded_files() -> set[Path]:
    """The files only the lazy entries load: the harness, wherever it lives."""
    probe = ("import sys\nfrom phoenix_board import cli\nbefore = set(sys.modules)\n"
             "[t.loaded for _, t, *_ in cli.COMMANDS if isinstance(t, cli.LazyGroup)]\n"
             "for name in set(sys.modules) - before:\n"
             "    if name.startswith('phoenix_board.'):\n"
             "        print(sys.modules[name].__file__)")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return {Path(line).resolve() for line in ran.stdout.split()}


def test_no_product_module_outside_the_cli_package_declares_commands():
    harness = _lazily_loaded_files()
    offenders = []
    for package in _product_packages():
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        for folder in spec.submodule_search_locations:
            for path in sorted(Path(folder).glob("*.py")):
                if path.resolve() in harness:
                    continue
                if re.search(r"^\s*(import typer|from typer|import click|from click)\b", path.read_text(), re.M):
                    offenders.append(f"{package}: {path.name}")
    assert offenders == [], "commands belong in phoenix_board/cli (one module per group, named in COMMANDS)"
