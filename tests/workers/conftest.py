"""Real Celery worker processes (`phoenix-board workers`) on a real broker (the embedded Valkey of
tests/conftest.py, one per test) and the test's own PostgreSQL database; logins of their own."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board.settings import Settings
from phoenix_board.workers.client import Client


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[Client]:
    settings = Settings(database_url=env["PHOENIX_DATABASE_URL"], redis_url=env["PHOENIX_REDIS_URL"],
                        queue_prefix=env["PHOENIX_QUEUE_PREFIX"], data_dir=Path(env["PHOENIX_DATA_DIR"]))
    with Client(settings) as c:
        yield c


# Logins of their own on the shared server: roles are global, so every name carries a random
# suffix and is dropped after the test, with whatever it owns.
@pytest.fixture
def logins(server_url: str) -> Iterator[Callable[..., str]]:
    """make(kind, options, member_of=None, url=...) creates a login and returns its URL; dropped after."""
    admin_url = make_conninfo(server_url, dbname=conninfo_to_dict(server_url).get("dbname") or "postgres")
    made: list[str] = []

    def make(kind: str, options: str = "", member_of: str | None = None, url: str = server_url) -> str:
        name = f"pbh_{kind}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {name} LOGIN {options}" + (f" IN ROLE {member_of}" if member_of else ""))
        made.append(name)
        return make_conninfo(url, user=name)

    try:
        yield make
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in reversed(made):
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f"DROP ROLE IF EXISTS {name}")


@dataclasses.dataclass(frozen=True)
class PgBouncer:
    url: str
    stop: Callable[[], None]


@pytest.fixture
def pgbouncer(url: str, tmp_path: Path) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the test's database (trust, as the server is):
    its URL, and stop() to make the database unreachable through it. Skipped where PgBouncer is
    not installed."""
    import os
    import shutil
    import signal
    import subprocess

    from tests.conftest import free_port, wait_for

    binary = shutil.which("pgbouncer")
    if binary is None:
        pytest.skip("pgbouncer is not installed (.ci/run installs it)")
    parts = conninfo_to_dict(url)
    port = free_port()
    folder = tmp_path / "pgbouncer"
    folder.mkdir()
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{parts['dbname']} = host={parts.get('host', '127.0.0.1')} port={parts.get('port', 5432)}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options\n")
    (folder / "users.txt").write_text(f'"{parts.get("user", "postgres")}" ""\n')  # trust still names its users
    os.chmod(folder, 0o755)
    # PgBouncer refuses to run as root: -u drops to nobody
    args = [binary, str(folder / "pgbouncer.ini")] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=(folder / "log.txt").open("wb"))
    through = make_conninfo(url, host="127.0.0.1", port=port)

    def answers() -> bool:
        try:
            with psycopg.connect(through, connect_timeout=2, prepare_threshold=None) as conn:
                return conn.execute("SELECT 1").fetchone()[0] == 1
        except psycopg.OperationalError:
            return proc.poll() is not None and pytest.fail((folder / "log.txt").read_text())

    wait_for(answers, timeout=30, what="pgbouncer")

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    try:
        yield PgBouncer(through, stop)
    finally:
        stop()
