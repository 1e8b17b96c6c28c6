"""API tokens: made and shown once, stored hashed, listed, revoked, expiring, last use recorded
once a minute; the bearer header checked (api/tokens.py, api/auth.py, `phoenix-board tokens`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from phoenix_board.api import auth, tokens
from phoenix_board.board import errors
from phoenix_board.board.settings import Settings
from tests.conftest import make_agent

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_cache():
    auth.forget()
    yield
    auth.forget()


def _settings(**kw) -> Settings:
    return Settings(api_token_cache_seconds=0, **kw)


def test_agent_token_names_its_agent_and_is_stored_only_hashed(db, sql):
    agent = make_agent(db, codename="scout-1")
    made = tokens.create(db, "agent", agent="scout-1", label="ci")
    assert made.token.startswith("pbt_") and len(made.token) == 47
    row = sql.execute("SELECT * FROM phoenix.api_tokens WHERE id = %s", (made.id,)).fetchone()
    assert made.token not in str(row) and bytes(row["digest"]) == tokens.digest(made.token)
    who = auth.authenticate(db, f"Bearer {made.token}", _settings())
    assert (who.kind, who.agent_id, who.codename, who.can_write()) == ("agent", agent.id, "scout-1", True)
    with pytest.raises(errors.Forbidden):
        who.require("operator")


def test_reader_and_operator_tokens(db):
    reader = auth.authenticate(db, "Bearer " + tokens.create(db, "reader").token, _settings())
    operator = auth.authenticate(db, "bearer " + tokens.create(db, "operator").token, _settings())
    assert (reader.kind, reader.can_write(), reader.agent_id) == ("reader", False, None)
    assert (operator.kind, operator.can_write()) == ("operator", True)
    operator.require("operator", "agent")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer pbt_short",
                                    "Bearer pbt_" + "A" * 43])
def test_missing_or_bad_tokens_are_refused_without_echoing_them(db, header):
    with pytest.raises(auth.Unauthenticated) as caught:
        auth.authenticate(db, header, _settings())
    assert "A" * 43 not in str(caught.value)


def test_public_reading_is_an_operator_setting(db):
    assert auth.authenticate(db, None, _settings(api_public_read=True)).kind == "public"
    with pytest.raises(auth.Unauthenticated):  # a bad token is still refused
        auth.authenticate(db, "Bearer nonsense", _settings(api_public_read=True))


def test_revoked_and_expired_tokens_are_refused(db):
    made = tokens.create(db, "reader", expires="1h", now=T0)
    assert auth.authenticate(db, f"Bearer {made.token}", _settings(), now=T0 + timedelta(minutes=59)).kind == "reader"
    with pytest.raises(auth.Unauthenticated, match="expired"):
        auth.authenticate(db, f"Bearer {made.token}", _settings(), now=T0 + timedelta(hours=1))
    other = tokens.create(db, "operator")
    tokens.revoke(db, other.id)
    with pytest.raises(auth.Unauthenticated, match="revoked"):
        auth.authenticate(db, f"Bearer {other.token}", _settings())
    with pytest.raises(errors.Conflict):
        tokens.revoke(db, other.id)
    with pytest.raises(errors.NotFound):
        tokens.revoke(db, 999_999)
    assert other.id not in [t["id"] for t in tokens.list_tokens(db)]
    assert other.id in [t["id"] for t in tokens.list_tokens(db, include_ended=True)]


def test_last_use_is_written_at_most_once_a_minute(db, sql):
    made = tokens.create(db, "reader")
    header = f"Bearer {made.token}"
    for seconds in (0, 10, 59):
        auth.authenticate(db, header, _settings(), now=T0 + timedelta(seconds=seconds))
    used = sql.execute("SELECT last_used_at FROM phoenix.api_tokens WHERE id = %s", (made.id,)).fetchone()
    assert used["last_used_at"] == T0
    auth.authenticate(db, header, _settings(), now=T0 + timedelta(seconds=61))
    used = sql.execute("SELECT last_used_at FROM phoenix.api_tokens WHERE id = %s", (made.id,)).fetchone()
    assert used["last_used_at"] == T0 + timedelta(seconds=61)


@pytest.mark.parametrize("kind, kw", [("robot", {}), ("agent", {}), ("reader", {"agent": "x"}),
                                      ("reader", {"expires": "soon"}), ("reader", {"expires": "0d"}),
                                      ("reader", {"label": ""})])
def test_bad_token_requests_change_nothing(db, sql, kind, kw):
    with pytest.raises(errors.InvalidInput):
        tokens.create(db, kind, **kw)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.api_tokens").fetchone()["n"] == 0


def test_tokens_command_line(db, url, tmp_path):
    make_agent(db, codename="scout-2")
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "tokens", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)

    made = run("create", "--agent", "scout-2", "--expires", "30d", "-q")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert tokens.well_formed(token)
    listed = run("list")
    assert "scout-2" in listed.stdout and token[:12] in listed.stdout and token not in listed.stdout
    [row] = json.loads(run("list", "--json").stdout)
    assert (row["kind"], row["codename"], row["hint"]) == ("agent", "scout-2", token[:12]) and token not in str(row)
    refused = run("create", "--operator", "--reader")
    assert refused.returncode == 1 and refused.stderr.strip().startswith("error:") and len(refused.stderr.strip().splitlines()) == 1
    token_id = tokens.list_tokens(db)[0]["id"]
    assert run("revoke", str(token_id)).returncode == 0
    assert "scout-2" not in run("list").stdout and "revoked" in run("list", "--all").stdout
