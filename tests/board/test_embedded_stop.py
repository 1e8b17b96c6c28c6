"""The embedded PostgreSQL stops even when pg_ctl fails to stop it, and says so in one line when
nothing will. A Ctrl-C of `up` once left the server running: its pg_ctl stop exited 1 and the server
never got the request. Here pg_ctl fails for real: as root it runs as the server's own user, who is
denied the pid file it reads."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import psutil
import pytest

from phoenix_board.board import embedded, errors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pg_ctl runs as another user than the test only under root")


@pytest.fixture
def server(tmp_path: Path):
    pg = embedded.EmbeddedPostgres(tmp_path / "data")
    pg.start()
    yield pg
    pid = pg.pid()
    if pid is not None:  # whatever the test left: let it run again, then stop it
        os.kill(pid, signal.SIGCONT)
        (pg.pgdata / "postmaster.pid").chmod(0o600)
        pg.stop()


def test_a_failed_pg_ctl_stop_still_stops_the_server(server):
    pid = server.pid()
    (server.pgdata / "postmaster.pid").chmod(0)  # pg_ctl, as the server's user, cannot read it
    server.stop()
    assert not server.running()
    # the postmaster removes its pid file as it exits: the process is gone within moments
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=10)
    assert not psutil.pid_exists(pid)


def test_a_server_that_will_not_stop_is_one_line_and_left_as_it_was(server):
    pid = server.pid()
    (server.pgdata / "postmaster.pid").chmod(0)
    os.kill(pid, signal.SIGSTOP)  # it cannot act on the request
    with pytest.raises(errors.Unavailable) as refused:
        server.stop(grace=1)
    message = str(refused.value)
    assert "\n" not in message and f"pid {pid}" in message and "pg_ctl stop exited with 1" in message
    assert server.running()
