"""`phoenix-board serve` refuses what it cannot use in one line and exit 1, as every command does."""

from __future__ import annotations

import os
import subprocess
import sys


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "serve", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_unreachable_database_and_bad_settings_are_one_line(tmp_path):
    down = serve({"PHOENIX_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PHOENIX_DATA_DIR": str(tmp_path)})
    assert down.returncode == 1 and down.stderr.startswith("error: PostgreSQL is unavailable")
    assert len(down.stderr.strip().splitlines()) == 1 and "Traceback" not in down.stderr
    bad = serve({"PHOENIX_API_PORT": "not-a-port", "PHOENIX_DATA_DIR": str(tmp_path)})
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error: settings: api_port")
    assert serve({}, "--port", "0").returncode == 2  # a usage error, as click says
