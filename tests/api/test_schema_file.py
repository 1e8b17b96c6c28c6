"""schema.graphql is the schema the code builds: a change to one without the other fails here.
Regenerate it with `phoenix-board serve --print-schema > schema.graphql`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from phoenix_board.api import schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema.sdl(), "schema.graphql is stale: run `phoenix-board serve --print-schema > schema.graphql`"


def test_print_schema_needs_no_database(tmp_path):
    out = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "serve", "--print-schema"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "PHOENIX_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == schema.sdl()


def test_the_seeds_names_are_in_the_schema():
    text = schema.sdl()
    for name in ("taskBoard(", "consciousness:", "createTask(", "voteTask(", "cascadeHormone(",
                 "consciousnessUpdates(", "taskCreated(", "hormoneEvent(", "taskUpdated("):
        assert name in text, name
