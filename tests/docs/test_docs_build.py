"""The documentation site builds with warnings as errors, as a reader's copy would be built.

A broken cross-reference, a link to a heading that is gone, a page left out of every table of
contents or a command whose help text is not valid markup fails here; the command-line reference
is generated from the app, so the built page lists the commands the program has.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import typer.main

from phoenix_board.cli import app

ROOT = Path(__file__).resolve().parents[2]


def text_of(page: Path) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
    # tags go without a trace (highlighting splits a usage line into spans), then runs of spaces close up
    return re.sub(r"[ \t]+", " ", html.unescape(re.sub(r"<[^>]+>", "", body)))


def test_the_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-5000:]}"

    # every group and command of the app is in the generated reference, with its help; a hidden one
    # (a deprecated spelling kept for old scripts) is left out of it, as it is of --help
    reference = text_of(out / "cli.html")
    root = typer.main.get_command(app)
    shown = 0
    for name in root.list_commands(None):
        group = root.get_command(None, name)
        if group.hidden:
            continue
        assert f"phoenix-board {name}" in reference, f"the reference lacks `phoenix-board {name}`"
        for sub in group.list_commands(None) if hasattr(group, "list_commands") else ():
            if group.get_command(None, sub).hidden:
                assert f"phoenix-board {name} {sub}" not in reference, f"`phoenix-board {name} {sub}` is hidden"
                continue
            assert f"phoenix-board {name} {sub}" in reference, f"the reference lacks `phoenix-board {name} {sub}`"
            shown += 1
    assert shown > 30
    for newer in ("phoenix-board serve", "phoenix-board tokens create", "phoenix-board bench api"):
        assert newer in reference, f"the reference lacks `{newer}`"

    # one page per alert, where its runbook_url points
    runbooks = sorted(p.stem for p in (out / "operations" / "runbooks").glob("*.html"))
    assert "noactiveagents" in runbooks and "What it means" in text_of(out / "operations/runbooks/noactiveagents.html")
