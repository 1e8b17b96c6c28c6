"""Every shell and Python block in the README runs, so an example that stops working fails CI.

A block is run here unless the HTML comment just before it says otherwise:

* ``<!-- test-command -->``: the test command, which `.ci/run` runs;
* ``<!-- readme: run by tests/... -->``: a test that runs it (the file must exist);
* ``<!-- readme: not run: REASON -->``: it needs what a test cannot give (docker compose, other
  hosts, a terminal left running), and says so;
* ``<!-- many-hosts: HOST -->``: a step of the many-host recipe, which
  ``tests/hosts/test_many_hosts.py`` runs word for word on network namespaces.

Shell blocks run in order, each with ``bash -euo pipefail`` in a scratch folder, with the test's
database and `phoenix-board` on the PATH; Python blocks run in order in one namespace (as a reader
would paste them) where ``url`` and ``worker_url`` name the test's database.
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


@dataclasses.dataclass
class Block:
    line: int
    lang: str
    code: str
    mark: str | None  # None: run here


def blocks(text: str) -> list[Block]:
    found = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1).lower()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.search(before)
        found.append(Block(start + 1, lang, "\n".join(lines[start + 1:end]) + "\n",
                           mark.group(1).strip() if mark else None))
        i = end + 1
    return found


README = blocks((ROOT / "README.md").read_text(encoding="utf-8"))
CODE = [b for b in README if b.lang in SHELL | PYTHON]


def test_every_block_is_run_or_says_why_not():
    assert CODE, "the README has no shell or Python blocks"
    for b in README:
        # an unlabelled block may only be a diagram or a listing, never a command to copy
        if not b.lang:
            assert not re.search(r"^\s*(\$ |phoenix-board |python|\.venv/|[A-Z_]+=\S+ )", b.code, re.M), \
                f"README.md:{b.line}: a command in a block without a language: label it bash"
    for b in CODE:
        if b.mark and b.mark.startswith("readme:"):
            how = b.mark.split(":", 1)[1].strip()
            if how.startswith("run by"):
                target = how[len("run by"):].strip().split()[0]
                assert (ROOT / target.split("::")[0]).exists(), f"README.md:{b.line}: {target} does not exist"
            else:
                assert len(how) > len("not run:") + 10, f"README.md:{b.line}: say why the block is not run"


@pytest.fixture
def scratch(url, tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120"}
    return env


@pytest.mark.slow
def test_the_shell_blocks_run_as_printed(scratch, tmp_path):
    ran = 0
    for b in CODE:
        if b.lang in SHELL and b.mark is None:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", b.code], cwd=tmp_path, env=scratch,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"README.md:{b.line} failed:\n{proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr, f"README.md:{b.line}:\n{proc.stderr[-3000:]}"
            ran += 1
    assert ran >= 1


def test_the_python_blocks_run_as_printed(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHOENIX_DATABASE_URL", url)
    namespace: dict = {"__name__": "readme", "url": url, "worker_url": url}
    ran = 0
    for b in CODE:
        if b.lang in PYTHON and b.mark is None:
            try:
                exec(compile(b.code, f"README.md:{b.line}", "exec"), namespace)  # noqa: S102 - the README's own code
            except Exception as exc:  # noqa: BLE001 - report which block, then fail
                pytest.fail(f"README.md:{b.line} raised {type(exc).__name__}: {exc}")
            ran += 1
    assert ran >= 1
