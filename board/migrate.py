"""Applies ``sql/migrations`` in order and re-applies ``sql/functions`` when they change.

* Migrations are recorded in ``phoenix.schema_version`` with a SHA-256 of their text. A file that
  was edited after it was applied stops the run: released migrations are never edited, a change
  is a new file.
* Function files (and the constants generated from ``constants.py``) are ``CREATE OR REPLACE``
  and are re-applied when their checksum changes, as Lemmy re-applies its replaceable schema; a
  new signature needs a migration that drops the old one.
* The roles, ownership, privileges and row-level security (``sql/security/roles.sql``, with the
  configured role names) are applied last whenever anything else was, since a re-created function
  or a new table starts with default privileges.
* Everything runs under a session advisory lock, so ten processes starting together apply each
  file once; a run with nothing pending takes no lock at all.
* Only a login that may write the schema migrates (:func:`may_migrate`: a superuser, a member of
  the owner role, or a ``CREATEROLE`` login before the owner role exists). Every other process
  (pools, the exporter and the relay logging in with the agent or monitor role) only reads
  ``schema_version``: with changes pending it says so in one line, or waits for the migrator with
  a line every :data:`WAIT_NOTICE_SECONDS` (:func:`bring_up_to_date`), and never tries to write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from importlib import resources

import psycopg
import psycopg.sql

from phoenix_board.board import constants, errors, outbox
from phoenix_board.board.db import translate

log = logging.getLogger(__name__)

# pg_advisory_lock key: the first 8 bytes of sha256("phoenix_board.migrate"), as a signed bigint
LOCK_KEY = int.from_bytes(hashlib.sha256(b"phoenix_board.migrate").digest()[:8], "big", signed=True)
CONSTANTS_NAME = "00_constants.sql (generated from board/constants.py)"
DEFAULT_ROLE_PREFIX = "phoenix"
WAIT_NOTICE_SECONDS = 15.0  # how often a process waiting for the migrator says so
ROLE_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

# Released migrations edited for a server where they failed, so that where they were applied they
# did what they do now: the earlier checksums still count as applied (the file says why).
EARLIER_CHECKSUMS = {
    # the Apache-licensed TimescaleDB fallback (docs/concepts/beat.md#timeline-timescaledb-or-not)
    "0002_consciousness.sql": {"d5d40ed15cc2ee9add4e36042403b99baef28cdf917134c6d61934649a97c084"},
}

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS phoenix;
CREATE TABLE IF NOT EXISTS phoenix.schema_version (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS phoenix.schema_functions (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


# Released migrations are never edited (their checksum is recorded), but 0002 reads a setting that
# only a superuser may read, which kept the documented CREATEROLE owner login from migrating. The
# text that runs gets these replacements; the recorded checksum stays the released file's.
AS_RUN = {
    "0002_consciousness.sql": (
        "current_setting('shared_preload_libraries') LIKE '%timescaledb%'",
        # TimescaleDB's loader, preloaded, defines timescaledb.max_background_workers in every
        # database, and any login may read it. Not timescaledb.license: the versioned library
        # defines that one, and loads only once the extension exists in the database, which a new
        # database's first migration is about to create. pg_settings lists no placeholder (a
        # timescaledb.* line left in the configuration of a server that no longer preloads it).
        "EXISTS (SELECT FROM pg_settings WHERE name = 'timescaledb.max_background_workers')",
    ),
}


@dataclasses.dataclass(frozen=True)
class SqlFile:
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def as_run(self) -> str:
        """The text to execute: the file, with the replacements of :data:`AS_RUN`."""
        if self.name not in AS_RUN:
            return self.text
        old, new = AS_RUN[self.name]
        if old not in self.text:
            raise AssertionError(f"{self.name} no longer contains the text AS_RUN replaces")
        return self.text.replace(old, new)


@dataclasses.dataclass
class Report:
    migrations: list[str] = dataclasses.field(default_factory=list)
    functions: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.migrations or self.functions)


def _files(folder: str) -> list[SqlFile]:
    base = resources.files("phoenix_board.sql").joinpath(folder)
    return [
        SqlFile(entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(base.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".sql")
    ]


def migrations() -> list[SqlFile]:
    return _files("migrations")


def constants_sql() -> SqlFile:
    """``phoenix.k_<name>()`` for every number SQL formulas use, so constants.py stays their home."""
    lines = ["-- generated by phoenix_board.board.migrate from board/constants.py; do not edit"]
    for name in constants.SQL_EXPORTS:
        value = float(getattr(constants, name))
        lines.append(
            f"CREATE OR REPLACE FUNCTION phoenix.k_{name.lower()}() RETURNS float8 "
            f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {value!r}::float8 $$;"
        )
    # the event stream's topics that go through the outbox (the relay walks them one by one)
    topics = ", ".join(f"'{t}'" for t in outbox.OUTBOX_TOPICS)
    lines.append(f"CREATE OR REPLACE FUNCTION phoenix.k_outbox_topics() RETURNS text[] "
                 f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ARRAY[{topics}] $$;")
    return SqlFile(CONSTANTS_NAME, "\n".join(lines) + "\n")


def functions() -> list[SqlFile]:
    return [constants_sql(), *_files("functions")]


def role_names(prefix: str = DEFAULT_ROLE_PREFIX) -> dict[str, str]:
    """The owner, agent and monitor roles for a prefix (docs/concepts/security.md)."""
    if not ROLE_PREFIX.match(prefix) or prefix.startswith("pg_"):
        raise errors.InvalidInput(f"role prefix must be a lowercase letter, then up to 40 lowercase letters, digits or _ (not pg_), not {prefix[:50]!r}")
    return {kind: f"{prefix}_{kind}" for kind in ("owner", "agent", "monitor")}


def security_sql(prefix: str = DEFAULT_ROLE_PREFIX) -> SqlFile:
    """sql/security/roles.sql with the role names put in."""
    text = resources.files("phoenix_board.sql").joinpath("security", "roles.sql").read_text(encoding="utf-8")
    for kind, name in role_names(prefix).items():
        text = text.replace(f"@{kind}@", name)
    return SqlFile(f"security/roles.sql (roles {prefix}_*)", text)


def _pending(conn: psycopg.Connection, prefix: str) -> tuple[list[SqlFile], list[SqlFile]]:
    exists = conn.execute("SELECT to_regclass('phoenix.schema_version') IS NOT NULL").fetchone()[0]
    applied: dict[str, str] = {}
    applied_functions: dict[str, str] = {}
    if exists:
        applied = dict(conn.execute("SELECT version, checksum FROM phoenix.schema_version").fetchall())
        applied_functions = dict(conn.execute("SELECT name, checksum FROM phoenix.schema_functions").fetchall())
    known = migrations()
    names = {f.name for f in known}
    for version in sorted(set(applied) - names):
        raise errors.Conflict(
            f"the database has migration {version}, which this phoenix-board does not know; upgrade phoenix-board"
        )
    for f in known:
        if f.name in applied and applied[f.name] != f.checksum \
                and applied[f.name] not in EARLIER_CHECKSUMS.get(f.name, ()):
            raise errors.Conflict(
                f"migration {f.name} was edited after it was applied (checksum {applied[f.name][:12]} in the "
                f"database, {f.checksum[:12]} on disk); restore the file and put the change in a new migration"
            )
    todo = [f for f in known if f.name not in applied]
    security = security_sql(prefix)
    todo_functions = [f for f in functions() if applied_functions.get(f.name) != f.checksum]
    if todo or todo_functions or applied_functions.get(security.name) != security.checksum:
        todo_functions.append(security)
    return todo, todo_functions


def migrate(url: str, role_prefix: str = DEFAULT_ROLE_PREFIX) -> Report:
    """Brings the database at ``url`` up to date; safe to run from many processes at once."""
    report = Report()
    try:
        with psycopg.connect(url, autocommit=True, application_name="phoenix-board migrate") as conn:
            _join_owner(conn, role_prefix)
            todo, todo_functions = _pending(conn, role_prefix)
            if not todo and not todo_functions:
                return report
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            try:
                conn.execute(_BOOTSTRAP)
                # another process may have done the work while we waited for the lock
                todo, todo_functions = _pending(conn, role_prefix)
                for f in todo:
                    log.info("applying migration %s", f.name)
                    with conn.transaction():
                        conn.execute(f.as_run())
                        conn.execute(
                            "INSERT INTO phoenix.schema_version (version, checksum) VALUES (%s, %s)", (f.name, f.checksum)
                        )
                    report.migrations.append(f.name)
                if todo_functions:
                    with conn.transaction():
                        # bodies refer to each other; they are checked when first called instead
                        conn.execute("SET LOCAL check_function_bodies = off")
                        for f in todo_functions:
                            log.info("applying %s", f.name)
                            conn.execute(f.text)
                            conn.execute(
                                "INSERT INTO phoenix.schema_functions (name, checksum) VALUES (%s, %s) "
                                "ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
                                (f.name, f.checksum),
                            )
                            report.functions.append(f.name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return report


def _join_owner(conn: psycopg.Connection, role_prefix: str) -> None:
    """Migrating reads and hands over objects of the owner role, which needs its membership: a
    CREATEROLE login that lacks it makes itself a member where PostgreSQL lets it (it created the
    role, or, before 16, always); any other login is refused in one line before it touches anything.
    (Before the owner role exists, roles.sql creates it and does the same.)"""
    owner = role_names(role_prefix)["owner"]
    user, superuser, createrole, exists, member = conn.execute(
        "SELECT r.rolname, r.rolsuper, r.rolcreaterole, o.oid IS NOT NULL,"
        "       coalesce(pg_has_role(r.oid, o.oid, 'USAGE'), false)"
        "  FROM pg_roles r LEFT JOIN pg_roles o ON o.rolname = %s WHERE r.rolname = current_user", (owner,)).fetchone()
    if superuser or member or (createrole and not exists):
        return
    if createrole:
        try:
            conn.execute(psycopg.sql.SQL("GRANT {} TO {}").format(psycopg.sql.Identifier(owner), psycopg.sql.Identifier(user)))
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidGrantOperation):
            pass
    raise errors.Forbidden(f"login {user} may not migrate: it is not a member of {owner}; run GRANT {owner} TO {user} "
                           f"as a superuser, or migrate with the owner's login")


def may_migrate(conn: psycopg.Connection, role_prefix: str = DEFAULT_ROLE_PREFIX) -> bool:
    """May this login write the schema? A superuser, a member of the owner role, or a login with
    CREATEROLE (which creates the owner role the first time and makes itself a member)."""
    owner = role_names(role_prefix)["owner"]
    return bool(conn.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR (o.oid IS NOT NULL AND pg_has_role(r.oid, o.oid, 'USAGE'))"
        "  FROM pg_roles r LEFT JOIN pg_roles o ON o.rolname = %s WHERE r.rolname = current_user",
        (owner,)).fetchone()[0])


def _pending_names(conn: psycopg.Connection, role_prefix: str) -> list[str]:
    todo, todo_functions = _pending(conn, role_prefix)
    return [f.name for f in todo] + [f.name for f in todo_functions]


def _shown(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def bring_up_to_date(url: str, role_prefix: str = DEFAULT_ROLE_PREFIX, *, auto: bool | None = None,
                     wait_seconds: float = 0.0) -> Report:
    """What a process that opens the board does about the schema (docs/operations/many-hosts.md).

    ``auto`` True migrates (a login that may not fails with the database's one-line error), False
    never migrates, None migrates only when :func:`may_migrate`. A process that does not migrate
    and finds changes pending waits up to ``wait_seconds`` for the migrator, saying so every
    :data:`WAIT_NOTICE_SECONDS`, then fails with one line; it writes nothing.
    """
    try:
        with psycopg.connect(url, autocommit=True, application_name="phoenix-board schema check") as conn:
            user = conn.execute("SELECT current_user").fetchone()[0]
            if auto or (auto is None and may_migrate(conn, role_prefix)):
                conn.close()
                return migrate(url, role_prefix)
            deadline = time.monotonic() + wait_seconds
            notice = 0.0
            while names := _pending_names(conn, role_prefix):
                what = (f"the schema has {len(names)} pending change(s) ({_shown(names)}) and login {user} "
                        f"does not migrate (only the owner's login does)")
                if time.monotonic() >= deadline:
                    raise errors.Unavailable(f"{what}; run `phoenix-board migrate` with the owner's login")
                if time.monotonic() >= notice:
                    log.warning("%s; waiting for `phoenix-board migrate`", what)
                    notice = time.monotonic() + WAIT_NOTICE_SECONDS
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return Report()


def status(url: str, role_prefix: str = DEFAULT_ROLE_PREFIX) -> dict[str, list[str]]:
    """Applied and pending migrations, for ``phoenix-board migrate --status``."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            todo, todo_functions = _pending(conn, role_prefix)
    except psycopg.Error as exc:
        raise translate(exc) from exc
    pending = {f.name for f in todo}
    return {
        "applied": [f.name for f in migrations() if f.name not in pending],
        "pending": sorted(pending),
        "functions_pending": [f.name for f in todo_functions],
    }
