"""Every shell and Python block in the README and the docs runs, so an example that stops working fails CI.

A block is run here unless the HTML comment just before it says otherwise:

* ``<!-- test-command -->``: the test command, which `.ci/run` runs;
* ``<!-- readme: run by PATH -->``: a test (or `.ci/run`) that runs it (the file must exist);
* ``<!-- readme: not run: REASON -->``: it needs what a test cannot give (docker compose, other
  hosts, a terminal left running), and says so;
* ``<!-- many-hosts: HOST -->``: a step of the many-host recipe (docs/operations/many-hosts.md),
  which ``tests/workers/test_many_hosts.py`` runs word for word on network namespaces.

Each document (README.md, every docs/**/*.md) is a reader's session of its own: its shell blocks
run in order, each with ``bash -euo pipefail`` in a scratch folder, with a fresh test database and
`phoenix-board` on the PATH; its Python blocks run in order in one namespace (as a reader would
paste them) where ``url`` and ``worker_url`` name the test's database.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py"}
MARK = re.compile(r"<!--\s*(test-command|many-hosts:\s*\w+|readme:\s*(run by|not run:)\s*(.*?))\s*-->", re.S)
FENCE = re.compile(r"^(```+)\s*(\{[\w-]+\}|[\w+-]*)[^`]*$")


@dataclasses.dataclass
class Block:
    line: int
    lang: str  # "{directive}" for MyST directives (toctree, eval-rst): markup, never a command
    code: str
    mark: str | None  # None: run here


def blocks(text: str) -> list[Block]:
    found = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, ticks, lang = i, fence.group(1), fence.group(2).lower()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == ticks), None)
        assert end is not None, f"line {start + 1}: a code block that is never closed"
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.search(before)
        found.append(Block(start + 1, lang, "\n".join(lines[start + 1:end]) + "\n",
                           mark.group(1).strip() if mark else None))
        i = end + 1
    return found


def documents() -> list[Path]:
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *docs]


DOCS = {p.relative_to(ROOT).as_posix(): blocks(p.read_text(encoding="utf-8")) for p in documents()}
RUNNABLE = {name: [b for b in found if b.lang in SHELL | PYTHON] for name, found in DOCS.items()}


def test_the_readme_keeps_its_test_command():
    marked = [b for b in DOCS["README.md"] if b.mark == "test-command"]
    assert len(marked) == 1 and marked[0].lang == "bash", "README.md needs one bash block after <!-- test-command -->"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_block_is_run_or_says_why_not(name):
    for b in DOCS[name]:
        # an unlabelled block may only be a diagram or a listing, never a command to copy
        if not b.lang:
            assert not re.search(r"^\s*(\$ |phoenix-board |python|\.venv/|[A-Z_]+=\S+ )", b.code, re.M), \
                f"{name}:{b.line}: a command in a block without a language: label it bash"
    for b in RUNNABLE[name]:
        if b.mark == "test-command":
            assert name == "README.md", f"{name}:{b.line}: only the README holds the test command (.ci/run reads it)"
        if b.mark and b.mark.startswith("readme:"):
            how = b.mark.split(":", 1)[1].strip()
            if how.startswith("run by"):
                target = how[len("run by"):].strip().split()[0].rstrip(",;")
                assert (ROOT / target.split("::")[0]).exists(), f"{name}:{b.line}: {target} does not exist"
            else:
                assert len(how) > len("not run:") + 10, f"{name}:{b.line}: say why the block is not run"


def test_some_blocks_run_here():
    assert any(b.mark is None for found in RUNNABLE.values() for b in found)


@pytest.fixture
def scratch(url, tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120"}
    return env


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n, found in RUNNABLE.items()
                                        if any(b.lang in SHELL and b.mark is None for b in found)))
def test_the_shell_blocks_run_as_printed(name, scratch, tmp_path):
    for b in RUNNABLE[name]:
        if b.lang in SHELL and b.mark is None:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", b.code], cwd=tmp_path, env=scratch,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{name}:{b.line} failed:\n{proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr, f"{name}:{b.line}:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("name", sorted(n for n, found in RUNNABLE.items()
                                        if any(b.lang in PYTHON and b.mark is None for b in found)))
def test_the_python_blocks_run_as_printed(name, url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHOENIX_DATABASE_URL", url)
    namespace: dict = {"__name__": "readme", "url": url, "worker_url": url}
    for b in RUNNABLE[name]:
        if b.lang in PYTHON and b.mark is None:
            try:
                exec(compile(b.code, f"{name}:{b.line}", "exec"), namespace)  # noqa: S102 - the docs' own code
            except Exception as exc:  # noqa: BLE001 - report which block, then fail
                pytest.fail(f"{name}:{b.line} raised {type(exc).__name__}: {exc}")
