"""`pip install .` (not `-e`), then `up` run in the source folder: the children must import the
installed package, not the source folder's `phoenix_board/` (the wiring only), which shadowed it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.uprun import clean_env, of_data_dir
from tests.conftest import wait_for

pytestmark = pytest.mark.slow
SOURCE = Path(__file__).resolve().parents[2]


def test_up_from_the_source_folder_after_a_regular_install(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # built from a copy: a regular build writes build/ into the folder it builds, where the docs'
    # tests (running at the same time in another process) would read its copies of the sources
    copy = tmp_path / "source"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns(".git", ".venv", "build", "_build", "*.egg-info",
                                                                "__pycache__", ".pytest_cache"))
    built = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(copy)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    # the dependencies come from this test's environment: a path line in a .pth file adds that
    # folder only (its own .pth files, such as an editable install's finder, are not run)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run([str(python), "-c", "import phoenix_board.board, sys; print(phoenix_board.board.__file__)"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert installed.stdout.startswith(site), installed.stdout + installed.stderr  # the copy, not the source

    env = clean_env(tmp_path)
    done = subprocess.run([str(venv / "bin" / "phoenix-board"), "up", "--agents", "1", "--team", "iota", "--for", "3"],
                          capture_output=True, text=True, cwd=SOURCE, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.startswith("up: ") or "\nup: " in done.stdout, done.stdout
    wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="every process of the board to exit")
