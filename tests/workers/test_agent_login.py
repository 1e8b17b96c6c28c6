"""Agents log in with a login that has only the agent role (issue 12.9): under `up` the pools'
connections belong to a login of the agent group alone, RESET ROLE gains them nothing, and the
owner's URL is in no pool process's environment; a login that could act as the owner is refused
as the agents' login, in one line."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from phoenix_board.board import embedded, errors, migrate
from phoenix_board.board.settings import Settings
from phoenix_board.workers import logins
from tests.conftest import login, wait_for
from tests.uprun import clean_env
from tests.uprun import of_data_dir as _ours

ROLES = migrate.role_names()


def test_an_agents_login_that_can_act_as_the_owner_is_refused_in_one_line(url, sql):
    for owner_login in login(sql, url, ROLES["owner"]):
        settings = Settings(database_url=url, agent_database_url=owner_login)
        with pytest.raises(errors.Forbidden, match="can act as the owner") as info:
            logins.pool_environment({"PHOENIX_DATABASE_URL": url}, url, settings)
        assert len(str(info.value).splitlines()) == 1
    for agent_login in login(sql, url, ROLES["agent"]):
        settings = Settings(database_url=url, agent_database_url=agent_login)
        env = logins.pool_environment({"PHOENIX_DATABASE_URL": url, "PHOENIX_AGENT_DATABASE_URL": agent_login},
                                      url, settings)
        assert env == {"PHOENIX_DATABASE_URL": agent_login}  # the owner's URL is gone
        assert logins.can_act_as_owner(agent_login, "phoenix") is None
    assert logins.can_act_as_owner(url, "phoenix") == "postgres"


@pytest.mark.slow
def test_up_gives_its_pools_a_login_of_the_agent_role_only(tmp_path):
    env = clean_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "up", "--agents", "1", "--team", "iota"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 180
        seen = ""
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            seen += line
            if line.startswith("up"):
                break
        assert line.startswith("up"), seen
        owner_url = embedded.EmbeddedPostgres(tmp_path / "data").start()  # attaches to up's server
        owner_user = conninfo_to_dict(owner_url).get("user")
        owner_password = conninfo_to_dict(owner_url).get("password")
        # the embedded server asks for passwords (scram-sha-256); the superuser's is in a 0600 file
        secret = tmp_path / "data" / embedded.SECRET_FILE
        assert owner_password and secret.read_text().strip() == owner_password
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        pools = [p for p in _ours(tmp_path) if "workers" in p.cmdline()]  # the pools, not the watchdog (workers.watchdog)
        assert pools, "no worker process found"
        for p in pools + [c for p in pools for c in p.children()]:
            environ = p.environ()
            user = conninfo_to_dict(environ["PHOENIX_DATABASE_URL"]).get("user")
            assert user == "phoenix_agent_login" != owner_user
            assert not any(owner_url in v or owner_password in v for v in environ.values())
        with psycopg.connect(owner_url, autocommit=True) as conn:
            users = {r[0] for r in conn.execute(
                "SELECT usename FROM pg_stat_activity WHERE application_name IN ('phoenix-agent', 'phoenix-poller')")}
            assert users == {"phoenix_agent_login"}
            agent_url = conninfo_to_dict(pools[0].environ()["PHOENIX_DATABASE_URL"])
        with psycopg.connect(**agent_url, autocommit=True) as conn:  # what a compromised handler could do
            conn.execute("RESET ROLE")
            assert conn.execute("SELECT current_user").fetchone()[0] == "phoenix_agent_login"
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("UPDATE phoenix.agents SET trust_coefficient = 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SET ROLE {ROLES['owner']}")
        # nor can it log in as the superuser through the socket it can reach: a password is asked
        for password in (None, agent_url.get("password")):
            guess = {**agent_url, "user": owner_user, "password": password}
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(**{k: v for k, v in guess.items() if v is not None}, autocommit=True).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        time.sleep(1)
        for leftover in _ours(tmp_path):
            try:
                leftover.kill()
            except psutil.Error:
                pass


@pytest.mark.slow
def test_workers_given_the_agents_login_keep_the_owners_url_out_of_every_process(env, sql, url, tmp_path):
    for agent_login in login(sql, url, ROLES["agent"]):
        log = tmp_path / "workers.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "workers", "--team", "iota", "--agents", "2",
                                     "--name", "contained"], env={**env, "PHOENIX_AGENT_DATABASE_URL": agent_login},
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'contained-%'")
                     .fetchone()["n"] == 2, what="the pool's agents")
            main = psutil.Process(proc.pid)
            for p in [main, *main.children()]:
                environ = p.environ()
                assert environ["PHOENIX_DATABASE_URL"] == agent_login
                assert url not in environ.values() and "PHOENIX_AGENT_DATABASE_URL" not in environ
            user = conninfo_to_dict(agent_login)["user"]
            users = {r["usename"] for r in sql.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name IN ('phoenix-agent', 'phoenix-poller')")}
            assert users == {user}
            assert "can act as the owner" not in log.read_text()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
