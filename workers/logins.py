"""The agents' own login (docs/operations/many-hosts.md; issue 12.9).

A pool process runs handlers, which are user code. If it logs in as the owner and only ``SET
ROLE``s to the agent role, a compromised handler can ``RESET ROLE`` and act as the owner, and it
finds the owner's URL in its environment. So pools log in with a login whose only group is the
agent role, and their environment holds that login's URL and no other:

* ``workers`` started with such a login is contained already; given ``PHOENIX_AGENT_DATABASE_URL``
  it starts again (exec) with that login's URL as its only one; with a login that can act as the
  owner (a superuser, or a member of the owner group) it says so in one line at start.
* ``up`` hands its pools ``PHOENIX_AGENT_DATABASE_URL`` when it is set. With the embedded server,
  it makes a login of its own, ``<prefix>_agent_login`` in the agent group only, whose password is
  kept in ``<data_dir>/agent-login.secret`` (mode 0600), and gives the pools that login's URL.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import psycopg
from psycopg import sql as pg_sql
from psycopg.conninfo import make_conninfo

from phoenix_board.board import errors, migrate
from phoenix_board.board.db import redact, translate
from phoenix_board.board.settings import Settings

log = logging.getLogger(__name__)
SECRET_FILE = "agent-login.secret"


def can_act_as_owner(url: str, role_prefix: str) -> str | None:
    """The login of ``url`` if it can act as the owner (superuser, or member of the owner group)."""
    owner = migrate.role_names(role_prefix)["owner"]
    try:
        with psycopg.connect(url, autocommit=True, application_name="phoenix-board login check") as conn:
            login, escalates = conn.execute(
                "SELECT r.rolname, r.rolsuper OR (o.oid IS NOT NULL AND pg_has_role(r.oid, o.oid, 'MEMBER'))"
                "  FROM pg_roles r LEFT JOIN pg_roles o ON o.rolname = %s WHERE r.rolname = session_user",
                (owner,)).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return login if escalates else None


def warn_if_not_contained(url: str, role_prefix: str) -> None:
    login = can_act_as_owner(url, role_prefix)
    if login:
        log.warning("pool processes log in as %s, which can act as the owner (RESET ROLE): give `workers` a login "
                    "of the agent role only (docs/operations/many-hosts.md)", login)


def exec_as_agents(agent_url: str) -> None:
    """`workers` given PHOENIX_AGENT_DATABASE_URL starts again in a process whose environment has
    that URL as PHOENIX_DATABASE_URL and no other: a changed os.environ would still leave the
    owner's URL in /proc/<pid>/environ, which pool processes inherit; a new exec does not."""
    env = {k: v for k, v in os.environ.items() if k not in ("PHOENIX_DATABASE_URL", "PHOENIX_AGENT_DATABASE_URL")}
    env["PHOENIX_DATABASE_URL"] = agent_url
    os.execve(sys.executable, [sys.executable, "-m", "phoenix_board.cli", *sys.argv[1:]], env)


def _embedded_agent_login(owner_url: str, settings: Settings) -> str:
    """The embedded server's agent login, made (or its password set) now; its URL."""
    roles = migrate.role_names(settings.role_prefix)
    name = f"{settings.role_prefix}_agent_login"
    secret_path = Path(settings.data_dir) / SECRET_FILE
    if secret_path.exists():
        password = secret_path.read_text().strip()
    else:
        password = secrets.token_urlsafe(24)
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
    try:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(pg_sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD {}").format(
                pg_sql.SQL(verb), pg_sql.Identifier(name), pg_sql.Literal(password)))
            conn.execute(pg_sql.SQL("GRANT {} TO {}").format(pg_sql.Identifier(roles["agent"]), pg_sql.Identifier(name)))
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return make_conninfo(owner_url, user=name, password=password)


def pool_environment(env: dict[str, str], owner_url: str, settings: Settings) -> dict[str, str]:
    """``env`` for `up`'s pools: the agents' login as PHOENIX_DATABASE_URL, the owner's URL gone."""
    if settings.agent_database_url:
        url = settings.agent_database_url
    elif not settings.database_url:
        url = _embedded_agent_login(owner_url, settings)
    else:
        log.warning("PHOENIX_AGENT_DATABASE_URL is not set: up's pools log in as the owner's login "
                    "(docs/operations/many-hosts.md)")
        return env
    login = can_act_as_owner(url, settings.role_prefix)
    if login:
        raise errors.Forbidden(f"the agents' login {login} ({redact(url)}) can act as the owner; give the pools a "
                               f"login whose only group is {migrate.role_names(settings.role_prefix)['agent']}")
    clean = {k: v for k, v in env.items() if k != "PHOENIX_AGENT_DATABASE_URL"}
    clean["PHOENIX_DATABASE_URL"] = url
    return clean
