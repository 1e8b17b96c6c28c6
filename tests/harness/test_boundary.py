"""The product never imports the test harness (`phoenix_board.harness`): no module of the product's
packages names it, apart from the one lazy entry that mounts `bench`, and a fresh command-line
process loads none of it until `bench` is asked for. (A worker's start-up: tests/workers/
test_harness_boundary.py.)"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HARNESS = "phoenix_board.harness"
LAZY_ENTRY = "phoenix_board.harness.cli:bench_app"
PRODUCT = ("phoenix_board", "phoenix_board.board", "phoenix_board.workers", "phoenix_board.scheduler",
           "phoenix_board.metrics", "phoenix_board.sql", "phoenix_board.api")


def product_files() -> list[Path]:
    harness = Path(importlib.util.find_spec(HARNESS).submodule_search_locations[0]).resolve()
    files: set[Path] = set()
    for package in PRODUCT:
        spec = importlib.util.find_spec(package)
        if spec is None:  # api/ is not there yet in every checkout
            continue
        for where in spec.submodule_search_locations:
            files.update(p.resolve() for p in Path(where).rglob("*.py") if harness not in p.resolve().parents)
    return sorted(files)


def harness_references(path: Path) -> tuple[list[str], list[str]]:
    """-> (imports of the harness, other strings naming it), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    imports, strings = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [f"{path}:{node.lineno}" for a in node.names if a.name.startswith(HARNESS)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(HARNESS):
            imports.append(f"{path}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "phoenix_board":
            imports += [f"{path}:{node.lineno}" for a in node.names if a.name == "harness"]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and HARNESS in node.value
              and id(node) not in docstrings):
            strings.append(node.value)
    return imports, strings


def test_no_product_module_imports_the_harness():
    files = product_files()
    assert any(f.name == "db.py" for f in files) and any(f.name == "runtime.py" for f in files)
    imports: list[str] = []
    strings: list[str] = []
    for path in files:
        found_imports, found_strings = harness_references(path)
        imports += found_imports
        strings += found_strings
    assert imports == []
    # the one lazy entry: `bench` names the harness by this string and imports it when invoked
    assert strings == [LAZY_ENTRY]


def loaded_harness(*code: str) -> list[str]:
    script = "\n".join([*code, "import sys",
                        f"print('loaded:', *sorted(m for m in sys.modules if m.startswith({HARNESS!r})))"])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PHOENIX_DATABASE_URL": "host=/nonexistent dbname=x"})
    assert done.returncode == 0, done.stderr[-2000:]
    [last] = [line for line in done.stdout.splitlines() if line.startswith("loaded:")]
    return last.split()[1:]


def run_main(*argv: str) -> str:
    return f"""
from phoenix_board import cli
try:
    cli.main({list(argv)!r})
except SystemExit:
    pass
"""


def test_the_command_line_loads_the_harness_only_for_bench():
    assert loaded_harness("import phoenix_board.cli") == []
    # the root help lists `bench` (with its own line of help) without importing it
    assert loaded_harness(run_main("--help")) == []
    assert loaded_harness(run_main("submit", "--help")) == []
    assert f"{HARNESS}.cli" in loaded_harness(run_main("bench", "--help"))


def test_bench_is_listed_and_runs_through_the_lazy_entry():
    env = {**os.environ, "PHOENIX_DATABASE_URL": "host=/nonexistent dbname=x"}
    root = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "--help"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert root.returncode == 0 and "bench" in root.stdout
    bench = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "bench", "--help"], capture_output=True,
                           text=True, timeout=60, env=env)
    assert bench.returncode == 0
    for command in ("board", "delegation", "dependents", "e2e", "beat", "scrape"):
        assert f"  {command} " in bench.stdout, command
    # fault runs are not benchmarks
    assert "faults" not in bench.stdout
    # a bad value is still one line, exit 1, through the root's error handler
    bad = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "bench", "board", "--tasks", "5"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert (bad.returncode, bad.stderr.strip()) == (1, "error: --tasks must be at least 1000, not 5")
