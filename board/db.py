"""The connection pool, named queries from ``sql/queries`` (and a caller's own) and the one place
that turns database errors into :mod:`errors`.

Statements are run by name (``db.one("task_claim", agent=..., lease=..., now=None)``), never
assembled from text, except the board listing that ``ranking.py`` composes from fixed pieces.
Connections are in autocommit: every board operation is a single call of a SQL function, so it
is its own transaction and costs one round trip. ``transaction()`` is there for the rest.

Inside ``acting_as(agent)`` every statement names its agent in ``phoenix.agent_id`` for its own
transaction (the setting the board's functions and row-level security check,
docs/concepts/security.md); the setting and the statement travel together in one pipeline. ``Database(role=)``
makes every statement run as that role: workers run as the agent role, the exporter as the monitor
role. A connection takes the role for its session (``SET ROLE``) when it opens, except behind a
pooler in transaction mode (PgBouncer, ``pooled=True``), where consecutive transactions of one client
may use different server connections and a session's role would stay on a server connection that
other clients then use: there the role is set per transaction instead (``set_config('role', ...,
true)``, in the same pipeline as the statement, as the acting agent is), and server-side prepared
statements are off (``prepare_threshold``): PgBouncer before 1.21 cannot follow them
(docs/operations/connections.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import time
from collections.abc import Sequence, Callable, Iterator, Mapping
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from phoenix_board.board import errors

log = logging.getLogger(__name__)

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure
_RETRIES = 3
_ACT = "SELECT set_config('phoenix.agent_id', %s, true)"
_ROLE = "SELECT set_config('role', %s, true)"
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("phoenix_acting_agent", default=None)


@contextlib.contextmanager
def acting_as(agent: Any) -> Iterator[None]:
    """Statements in this block (this thread or task) act for ``agent``; None acts for nobody."""
    token = _acting.set(None if agent is None else str(agent))
    try:
        yield
    finally:
        _acting.reset(token)


def load_queries(package: str, folder: str) -> dict[str, str]:
    """Every named statement in the ``*.sql`` files of ``folder`` inside ``package``, by name. The
    one loader: the product's ``sql/queries`` and the test harness's own ``harness/sql``."""
    found: dict[str, str] = {}
    for entry in sorted(resources.files(package).joinpath(folder).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        parts = _NAME.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in found:
                raise RuntimeError(f"query {name} is defined twice (second time in {entry.name})")
            found[name] = body.strip()
    return found


@functools.cache
def queries() -> dict[str, str]:
    """The product's named statements (sql/queries/*.sql), by name."""
    return load_queries("phoenix_board.sql", "queries")


# Messages for constraints, so that the last line of defence still speaks plainly.
_CONSTRAINTS = {
    "agents_codename_key": (errors.Conflict, "an agent with this codename already exists"),
    "agents_role_length": (errors.InvalidInput, "role must be 1-100 characters"),
    "agents_codename_format": (errors.InvalidInput, "codename must be 1-100 letters, digits or _.:@- and start with a letter or digit"),
    "teams_name_format": (errors.InvalidInput, "team name must be lowercase letters, digits and _ (max 63)"),
    "tasks_title_length": (errors.InvalidInput, "title must be 1-200 characters"),
    "tasks_idempotency_key_length": (errors.InvalidInput, "idempotency_key must be 1-200 characters"),
    "tasks_description_length": (errors.InvalidInput, "description must be at most 10000 characters"),
    "tasks_category_format": (errors.InvalidInput, "category must be lowercase letters, digits and _.- (max 63)"),
    "tasks_priority_range": (errors.InvalidInput, "priority must be between 1 and 10"),
    "tasks_fibonacci_size": (errors.InvalidInput, "fibonacci_size must be one of 1, 2, 3, 5, 8, 13, 21"),
    "tasks_quality_range": (errors.InvalidInput, "quality must be between 0 and 1"),
    "tasks_review_quorum_range": (errors.InvalidInput, "review_quorum must be between 0 and 15"),
    "tasks_max_attempts_range": (errors.InvalidInput, "max_attempts must be between 1 and 100"),
    "tasks_dopamine_reward_range": (errors.InvalidInput, "dopamine_reward must be between 0 and 10"),
    "task_comments_content_length": (errors.InvalidInput, "comment must be 1-10000 characters"),
}
# psycopg encodes text parameters itself, so a lone surrogate fails in Python, not in PostgreSQL
_NOT_UNICODE = "text must be valid Unicode (a lone surrogate cannot be stored)"
_FK_DETAIL = re.compile(r'Key \((\w+)\)=\((.*)\) is not present in table "(\w+)"')


def translate(exc: psycopg.Error) -> errors.BoardError:
    """The BoardError for a database error: by SQLSTATE, then by constraint name."""
    state = exc.sqlstate or ""
    diag = exc.diag
    primary = diag.message_primary or str(exc).splitlines()[0]
    if state in errors.BY_SQLSTATE:
        return errors.BY_SQLSTATE[state](primary)
    constraint = diag.constraint_name or ""
    if constraint in _CONSTRAINTS:
        kind, message = _CONSTRAINTS[constraint]
        return kind(message)
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        match = _FK_DETAIL.search(diag.message_detail or "")
        if match:
            column, value, table = match.groups()
            what = {"teams": "team", "agents": "agent", "tasks": "task"}.get(table, table)
            return errors.NotFound(f"{what} {value} not found ({column})")
        return errors.NotFound(primary)
    if isinstance(exc, pg_errors.UniqueViolation):
        return errors.Conflict(primary)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return errors.Forbidden(f"{primary} (the agent role acts only through the board's functions)"
                                if "denied for table" in primary else primary)
    if state.startswith("22") or state.startswith("23"):
        # data exceptions (bad uuid text, out of range, invalid JSON) and other constraint breaks
        return errors.InvalidInput(primary)
    if state.startswith("54"):
        # program limits (stack depth, index row size): the input is too big or too deep. Checked
        # before OperationalError, of which psycopg makes class 54 a subclass: as Unavailable it
        # would be retried for ever by the Celery tasks
        return errors.InvalidInput(f"the input exceeds a PostgreSQL limit: {primary}")
    if not state and isinstance(exc, psycopg.DataError | psycopg.ProgrammingError):
        # refused by psycopg before sending (NUL in text, a value it cannot adapt)
        return errors.InvalidInput(f"cannot send this value to PostgreSQL: {primary}")
    if isinstance(exc, psycopg.OperationalError):
        return errors.Unavailable(f"PostgreSQL is unavailable: {primary}")
    return errors.BoardError(f"database error {state}: {primary}")


class Database:
    """A pool of autocommit connections and the named queries."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, name: str = "phoenix-board",
                 role: str | None = None, timeout: float = 30.0,
                 extra_queries: Mapping[str, str] | None = None, pooled: bool = False) -> None:
        self.url = url
        self.role = role
        self.pooled = pooled
        # the statements this pool runs by name: the product's, plus a caller's own (the test
        # harness brings its own SQL, which no product process loads)
        self.queries = queries()
        if extra_queries:
            if clash := sorted(set(extra_queries) & set(self.queries)):
                raise RuntimeError(f"queries {', '.join(clash)} are defined twice (in the product and the extra queries)")
            self.queries = {**self.queries, **extra_queries}
        # (query name, seconds) after each named query; the workers count them (board imports no metrics)
        self.observe: Callable[[str, float], None] | None = None
        # (SQLSTATE) before each retry of a deadlocked or serialization-failed statement; counted likewise
        self.on_retry: Callable[[str], None] | None = None
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": name,
                    **({"prepare_threshold": None} if pooled else {})},
            name=name,
            open=False,
            configure=self._configure if role and not pooled else None,
            timeout=timeout,  # seconds a call waits for a connection before it is Unavailable
        )

    def _configure(self, conn: psycopg.Connection) -> None:
        conn.execute(pg_sql.SQL("SET ROLE {}").format(pg_sql.Identifier(self.role)))

    def _per_transaction(self) -> list[tuple[str, tuple[str]]]:
        """What each transaction sets for itself, local to it: the role behind a pooler, and the acting agent."""
        setup = [(_ROLE, (self.role,))] if self.role and self.pooled else []
        if (actor := _acting.get()) is not None:
            setup.append((_ACT, (actor,)))
        return setup

    def open(self, wait: bool = True, timeout: float = 10.0) -> Database:
        try:
            self.pool.open(wait=wait, timeout=timeout)
        except Exception as exc:  # PoolTimeout hides the connection error; say what we tried
            raise errors.Unavailable(f"cannot connect to PostgreSQL at {redact(self.url)}: {exc}") from exc
        return self

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        with self.pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection inside one transaction; database errors leave as BoardError."""
        with self.pool.connection() as conn:
            try:
                with conn.transaction():
                    for statement, params in self._per_transaction():
                        conn.execute(statement, params)
                    yield conn
            except psycopg.Error as exc:
                raise translate(exc) from exc

    def _run(self, name: str, params: Mapping[str, Any], fetch: str) -> Any:
        sql = self.queries[name]
        for attempt in range(1, _RETRIES + 1):
            try:
                t0 = time.perf_counter()
                with self.pool.connection() as conn:
                    cur = _execute(conn, self._per_transaction(), sql, params)
                    if fetch == "one":
                        result = cur.fetchone()
                    elif fetch == "all":
                        result = cur.fetchall()
                    else:
                        result = cur.rowcount
                if self.observe is not None:
                    self.observe(name, time.perf_counter() - t0)
                return result
            except UnicodeEncodeError:
                raise errors.InvalidInput(_NOT_UNICODE) from None
            except psycopg.Error as exc:
                if exc.sqlstate in _RETRYABLE and attempt < _RETRIES:
                    log.warning("query %s: %s; retrying (%d/%d)", name, exc.sqlstate, attempt, _RETRIES)
                    if self.on_retry is not None:
                        self.on_retry(exc.sqlstate)
                    time.sleep(0.01 * 2**attempt)
                    continue
                raise translate(exc) from exc
        raise AssertionError("unreachable")

    def one(self, name: str, **params: Any) -> dict[str, Any] | None:
        return self._run(name, params, "one")

    def all(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self._run(name, params, "all")

    def execute(self, name: str, **params: Any) -> int:
        return self._run(name, params, "none")

    def one_each(self, name: str, calls: Sequence[tuple[Any, Mapping[str, Any]]]) -> list[dict[str, Any] | None | errors.BoardError]:
        """Runs the named statement once per ``(acting agent, params)`` in ONE transaction, each run in
        a savepoint of its own that names its own acting agent (None: nobody). A run that is refused
        is undone alone and its BoardError takes its place in the answer; the others commit together,
        with one commit for all (a batch of submissions pays one WAL flush, not one each). A deadlock
        retries that run; a database that is away raises Unavailable and nothing is committed."""
        sql = self.queries[name]
        out: list[dict[str, Any] | None | errors.BoardError] = []
        try:
            with self.pool.connection() as conn, conn.transaction():
                for actor, params in calls:
                    for attempt in range(1, _RETRIES + 1):
                        try:
                            with conn.transaction():  # a savepoint
                                conn.execute(_ACT, ("" if actor is None else str(actor),))
                                out.append(conn.execute(sql, params).fetchone())
                            break
                        except UnicodeEncodeError:
                            out.append(errors.InvalidInput(_NOT_UNICODE))
                            break
                        except psycopg.Error as exc:
                            if exc.sqlstate in _RETRYABLE and attempt < _RETRIES:
                                continue
                            refused = translate(exc)
                            if isinstance(refused, errors.Unavailable):
                                raise
                            out.append(refused)
                            break
        except psycopg.Error as exc:
            raise translate(exc) from exc
        return out

    def batch(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[list[dict[str, Any]]]:
        """Several named read queries on one connection, sent together and answered at one sync (a
        pipeline): one round trip instead of one each. The exporter's scrape is a handful of small
        reads whose latency on a busy server is the round trips, not the work."""
        try:
            with self.pool.connection() as conn:
                with conn.pipeline():
                    for statement, setup in self._per_transaction():
                        conn.execute(statement, setup)
                    cursors = [conn.execute(self.queries[name], params) for name, params in calls]
                # the pipeline's exit sent its one Sync and read every result
                return [cur.fetchall() for cur in cursors]
        except psycopg.Error as exc:
            raise translate(exc) from exc

    def fetch_sql(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Runs a statement composed by ranking.py (the one composed query)."""
        try:
            with self.pool.connection() as conn:
                return _execute(conn, self._per_transaction(), statement, params or {}).fetchall()
        except UnicodeEncodeError:
            raise errors.InvalidInput(_NOT_UNICODE) from None
        except psycopg.Error as exc:
            raise translate(exc) from exc


def _execute(conn: psycopg.Connection, setup: list[tuple[str, tuple[str]]], statement: Any,
             params: Mapping[str, Any]) -> psycopg.Cursor:
    """The role and the acting agent (``Database._per_transaction``), then the statement, in one
    implicit transaction and one round trip (in autocommit, a pipeline's statements share the
    transaction up to its sync). -> the statement's cursor, its results read
    The pipeline's exit sends a Sync and waits for it whether or not the block synced: a sync inside
    the block as well cost every board call a second round trip, a third of an agent's time in a
    claim loop on a loaded machine."""
    if not setup:
        return conn.execute(statement, params)
    with conn.pipeline():
        for command, values in setup:
            conn.execute(command, values)
        cur = conn.execute(statement, params)
    return cur


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
