"""A real `phoenix-board up` in a test's own data directory (embedded PostgreSQL and Valkey), as a
user starts it, and the means to count what it leaves running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import free_port, wait_for

CLI = [sys.executable, "-m", "phoenix_board.cli"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No PHOENIX_* of the caller's; this test's data directory and a private user config folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOENIX_")}
    return {**env, "PHOENIX_DATA_DIR": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "PHOENIX_METRICS_PORT": str(free_port()), "PHOENIX_API_PORT": str(free_port())}


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


class Up:
    """`up` in its own session (so that a test can send the terminal's Ctrl-C to its whole group)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], args: list[str] | None = None,
                 command: list[str] | None = None, cwd: Path | None = None) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.out = tmp_path / f"up-{len(list(tmp_path.glob('up-*.out')))}.out"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen([*(command or CLI), "up", *(args or ["--agents", "1", "--team", "iota"])],
                                         stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd or tmp_path,
                                         start_new_session=True)

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: any(line.startswith("up:") for line in self.output().splitlines())
                 or self.proc.poll() is not None, timeout=240, what="up to start")
        assert self.proc.poll() is None, self.output()[-3000:]

    def status(self) -> dict:
        done = run(["status", "--json"], self.env, self.tmp_path)
        return json.loads(done.stdout)

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)  # as a terminal does: to the whole foreground group


def recorded_pids(status: dict) -> set[int]:
    return {pid for p in status["processes"] for pid in p["pids"]}


def running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def of_data_dir(tmp_path: Path) -> list[psutil.Process]:
    """Every process whose command line or working directory is under this test's folder."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            text = " ".join(p.info["cmdline"] or [])
            if (str(tmp_path) in text or (p.info["cwd"] or "").startswith(str(tmp_path))) \
                    and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
