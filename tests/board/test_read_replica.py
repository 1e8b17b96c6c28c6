"""A real streaming replica (docs/operations/read-replicas.md): a private primary cluster started with initdb,
a hot standby made from it with ``pg_basebackup -R``. Commands that only read use
PHOENIX_DATABASE_READ_URL, writes go to the primary, the exporter's board figures come from the
replica while its connection and transaction figures describe the primary, and its lag is served.
Replay is paused on the replica to make the difference visible, then resumed."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from phoenix_board.board import migrate
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import exporter
from tests.board.conftest import Cluster
from tests.conftest import free_port, make_task, samples


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    base = tmp_path_factory.mktemp("replica")
    primary = Cluster(base / "primary").initdb().start()
    try:
        with primary.connect() as conn:
            conn.execute("CREATE DATABASE phoenix")
        migrate.migrate(primary.url("phoenix"))
        replica = Cluster(base / "replica").replica_of(primary).start()
        try:
            yield primary, replica
        finally:
            replica.stop()
    finally:
        primary.stop()


def caught_up(primary: Cluster, replica: Cluster) -> None:
    """Waits until the replica has replayed everything the primary has written so far."""
    with primary.connect() as p, replica.connect() as r:
        target = p.execute("SELECT pg_current_wal_lsn() AS lsn").fetchone()["lsn"]
        deadline = time.monotonic() + 60
        while r.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()) AS behind",
                        (str(target),)).fetchone()["behind"] > 0:
            assert time.monotonic() < deadline, "the replica did not catch up in 60 s"
            time.sleep(0.05)


def pause(replica: Cluster, paused: bool) -> None:
    with replica.connect() as r:
        r.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


@pytest.fixture
def paused(clusters):
    primary, replica = clusters
    caught_up(primary, replica)
    pause(replica, True)
    try:
        yield
    finally:
        pause(replica, False)


@pytest.fixture
def run(clusters, tmp_path):
    primary, replica = clusters
    env = {**os.environ, "PHOENIX_DATABASE_URL": primary.url("phoenix"),
           "PHOENIX_DATABASE_READ_URL": replica.url("phoenix"), "PHOENIX_REDIS_URL": "redis://127.0.0.1:6379/0",
           "PHOENIX_QUEUE_PREFIX": f"replica-{uuid.uuid4().hex[:8]}",
           "PHOENIX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    def invoke(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "phoenix_board.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)

    return invoke


@pytest.mark.slow
def test_commands_read_the_replica_and_write_the_primary(clusters, run):
    primary, replica = clusters
    assert run("agents", "register", "replica-voter", "--team", "iota").returncode == 0
    caught_up(primary, replica)
    pause(replica, True)
    try:
        submitted = run("submit", "--title", "Read me from the replica", "--team", "iota", "--key", "replica-key",
                        "--json")
        assert submitted.returncode == 0, submitted.stderr  # a write: the primary, though the replica lags
        task = json.loads(submitted.stdout)["id"]
        voted = run("vote", task, "up", "--agent", "replica-voter")
        assert voted.returncode == 0, voted.stderr
        with primary.connect("phoenix") as p:
            assert p.execute("SELECT score FROM phoenix.tasks WHERE id = %s", (task,)).fetchone()["score"] == 1
        # reads: the replica has not replayed the task yet
        shown = run("show", task)
        assert shown.returncode != 0 and "not found" in shown.stderr, shown.stdout + shown.stderr
        assert task not in [t["id"] for t in json.loads(run("board", "--json").stdout)["tasks"]]
        status = run("queue", "status", "replica-key")
        assert status.returncode == 3 and "not on the board yet" in status.stdout, status.stdout + status.stderr
    finally:
        pause(replica, False)
    caught_up(primary, replica)
    shown = run("show", task, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["task"]["score"] == 1, shown.stderr
    assert task in [t["id"] for t in json.loads(run("board", "--json").stdout)["tasks"]]
    status = run("queue", "status", "replica-key")
    assert status.returncode == 0 and json.loads(status.stdout)["id"] == task, status.stderr
    agents = json.loads(run("agents", "list", "--json").stdout)
    assert "replica-voter" in [a["codename"] for a in agents]
    assert re.search(r"replica\W+ok\W+[\d.]+ s \(\d+ bytes\) behind the primary", run("doctor").stdout)


@pytest.fixture
def exporter_pools(clusters):
    primary, replica = clusters
    with Database(primary.url("phoenix"), max_size=2, role="phoenix_monitor") as p_db, \
            Database(replica.url("phoenix"), max_size=2, role="phoenix_monitor") as r_db, \
            Database(primary.url("phoenix"), max_size=2) as writer:
        port = free_port()
        server, _ = exporter.serve(p_db, Settings(redis_url=None), port, "127.0.0.1", replica=r_db)
        try:
            yield writer, lambda: samples(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
                                          .read().decode())
        finally:
            server.shutdown()


def _open_tasks(figures) -> float:
    return figures[("phoenix_tasks", (("status", "open"), ("team", "epsilon_zeta")))]


@pytest.mark.slow
def test_exporter_reads_board_figures_from_the_replica_and_serves_its_lag(clusters, exporter_pools):
    primary, replica = clusters
    writer, scrape = exporter_pools
    caught_up(primary, replica)
    before = _open_tasks(scrape())
    # connections on the replica must not count: the figure is the primary's
    extra = [replica.connect("phoenix") for _ in range(6)]
    try:
        pause(replica, True)
        try:
            make_task(writer, team="epsilon_zeta", title="unseen on the replica")
            figures = scrape()
            assert _open_tasks(figures) == before  # read from the paused replica
            assert figures[("phoenix_db_replica_lag_bytes", ())] > 0
            assert figures[("phoenix_db_replica_lag_seconds", ())] > 0
            with primary.connect("phoenix") as p:
                on_primary = p.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'phoenix'"
                                       " AND backend_type = 'client backend'").fetchone()["n"] - 1  # this connection
            assert figures[("phoenix_db_connections_active", ())] == on_primary
            with replica.connect("phoenix") as r:
                on_replica = r.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'phoenix'"
                                       " AND backend_type = 'client backend'").fetchone()["n"] - 1
            assert on_replica >= 6 + 1 and on_replica != on_primary  # the exporter's pool and ours
        finally:
            pause(replica, False)
    finally:
        for conn in extra:
            conn.close()
    caught_up(primary, replica)
    figures = scrape()
    assert _open_tasks(figures) == before + 1
    assert figures[("phoenix_db_replica_lag_bytes", ())] == 0
    assert figures[("phoenix_db_replica_lag_seconds", ())] == 0


def test_a_read_url_that_is_not_a_postgresql_url_is_refused_in_one_line(tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_READ_URL": "not a url ===", "PHOENIX_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "board"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "database_read_url" in proc.stderr, proc.stderr


def _shown(db, started, teams) -> str:
    """What `up`'s live view shows on a tall, wide terminal, read from this pool."""
    from rich.console import Console

    from phoenix_board.cli import live

    out = io.StringIO()
    console = Console(width=200, height=200, file=out, color_system=None, legacy_windows=False)
    console.print(live.view(db, Settings(redis_url=None), started, teams, 1, width=200, height=200))
    return out.getvalue()


def test_the_live_view_of_up_reads_the_replica(clusters, paused):
    """`up`'s live view and progress lines (cli/live.py ``reader``) read the replica when one is
    set (issue 11, point 5), as the other listings do: a task written while replay is paused is
    on the primary's view and not yet on the replica's."""
    from datetime import UTC, datetime, timedelta

    from phoenix_board.cli import live

    primary, replica = clusters
    started = datetime.now(UTC) - timedelta(seconds=1)
    with_replica = Settings(database_url=primary.url("phoenix"), database_read_url=replica.url("phoenix"))
    with Database(primary.url("phoenix"), max_size=2) as db:
        make_task(db, team="iota", title="Shown from the primary only", priority=10)
        with live.reader(with_replica, db) as reads:
            assert reads is not db
            assert "Shown from the primary only" not in _shown(reads, started, ["iota"])
            assert "tasks 0 in" in _shown(reads, started, ["iota"])
        on_primary = _shown(db, started, ["iota"])
        assert "Shown from the primary only" in on_primary and "tasks 1 in" in on_primary
        with live.reader(Settings(database_url=primary.url("phoenix"), database_read_url=None), db) as reads:
            assert reads is db  # no replica: the primary
