"""The real command in a subprocess, with its output on a pipe (`run`) or on a pseudo-terminal
(`tty`), where Rich writes colours and where a stray escape sequence would act."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(url, tmp_path):
    return {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


@pytest.fixture
def run(cli_env, tmp_path):
    def invoke(*args: str, ok: bool = True) -> Ran:
        proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", *args], capture_output=True, text=True,
                              env=cli_env, cwd=tmp_path, timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return Ran(proc.returncode, proc.stdout, proc.stderr)

    return invoke


def run_in_tty(args: list[str], env: dict[str, str], cwd, columns: int = 120, lines: int = 40,
               timeout: float = 120.0) -> Ran:
    """Runs the command with stdout and stderr on one pseudo-terminal of the given size; returns
    everything the terminal received, decoded (stderr is folded into stdout, as on a screen)."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return Ran(code, b"".join(chunks).decode("utf-8", "replace"), "")


@pytest.fixture
def tty(cli_env, tmp_path):
    def invoke(*args: str, ok: bool = True, columns: int = 120, lines: int = 40) -> Ran:
        ran = run_in_tty([sys.executable, "-m", "phoenix_board.cli", *args], cli_env, tmp_path, columns, lines)
        if ok:
            assert ran.returncode == 0, ran.stdout
        return ran

    return invoke


def js(proc) -> dict:
    return json.loads(proc.stdout)


def assert_refused(proc, pattern: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and pattern in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
