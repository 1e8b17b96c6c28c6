"""The live view of `up` laid out for the terminal it has (issue 13, point 5): rendered at 80×24
and 120×40 with Rich consoles of that fixed size, over a board with nine agents, tasks in every
state, a delegation, a pair and a beat that stopped."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from phoenix_board.board import agents, delegation, federation, lifecycle
from phoenix_board.board.settings import Settings
from phoenix_board.cli import live
from phoenix_board.cli.up import started_agents

TEAMS = ["alpha_delta", "epsilon_zeta", "iota"]


@pytest.fixture
def busy(db, sql):
    started = datetime.now(UTC) - timedelta(minutes=3)
    crew = {t: [agents.register(db, {"codename": f"{t}-{i}", "team": t})[0] for i in range(3)] for t in TEAMS}
    sql.execute("UPDATE phoenix.agents SET last_heartbeat = now() - interval '5 minutes' WHERE codename = 'iota-2'")
    for n in range(12):
        lifecycle.submit(db, {"title": f"Mine {n} supplier records [/] \x1b[2J", "team": TEAMS[n % 3],
                              "category": "data_mining", "priority": 1 + n % 10})
    lead = crew["iota"][0]
    plan = lifecycle.claim(db, lead.id)
    delegation.delegate(db, plan.id, lead.id, plan.attempt, [{"title": "step one", "key": "a"},
                                                             {"title": "step two", "key": "b"}], "all", "fail")
    federation.pair(db, crew["alpha_delta"][0].id, crew["alpha_delta"][1].id)
    sql.execute("INSERT INTO phoenix.beat_runs (job, runs, last_started_at, last_success_at, last_duration_ms) "
                "VALUES ('lease_sweep', 1, now() - interval '10 minutes', now() - interval '10 minutes', 1)")
    return started


def screen(db, started, width: int, height: int) -> list[str]:
    """What a terminal of this size shows (a Rich console of fixed size, no colours)."""
    out = io.StringIO()
    console = Console(width=width, height=height, file=out, color_system=None, legacy_windows=False)
    # as `up` runs it: the embedded Valkey (no PHOENIX_REDIS_URL)
    console.print(live.view(db, Settings(redis_url=None), started, TEAMS, 3, width=width, height=height))
    return out.getvalue().splitlines()


def test_80_by_24_shows_the_headline_the_agents_and_the_legend(db, busy):
    lines = screen(db, busy, 80, 24)
    text = "\n".join(lines)
    assert len(lines) <= 23 and all(len(line) <= 80 for line in lines)
    assert "Ctrl-C to stop" in lines[0]
    assert "Valkey" in text and "Redis" not in text
    assert "beat stale: lease_sweep" in text  # a stopped beat is not shown as fine
    assert "D   O   A   C" in text and "trust" in text
    shown = [a for t in TEAMS for a in (f"{t}-0", f"{t}-1", f"{t}-2") if a in text]
    assert len(shown) == 9 or "more agent(s)" in text
    assert "hormones 0-5" in text and "trust 0-1" in text and "lvl: Fibonacci" in text and "consciousness 100-110" in text
    assert "\x1b" not in text


def test_120_by_40_adds_tasks_and_teamwork_and_marks_the_dead(db, busy):
    lines = screen(db, busy, 120, 40)
    text = "\n".join(lines)
    assert len(lines) <= 39 and all(len(line) <= 120 for line in lines)
    assert "Ctrl-C to stop" in lines[0]
    for t in TEAMS:
        for i in range(3):
            assert f"{t}-{i}" in text
    iota_2 = next(line for line in lines if "iota-2" in line)
    assert "dead" in iota_2
    assert "dopa" in text and "cort" in text  # wide enough for a column per hormone
    assert "tasks by status" in text and "hottest live tasks" in text
    assert "[/]" in text and "\x1b" not in text  # titles shown as typed, escapes inert


def test_a_tall_screen_shows_the_delegation_as_steps_not_a_failed_join(db, busy):
    text = "\n".join(screen(db, busy, 160, 80))
    assert "steps done 0 of 2 (needs 2; a failed step fails it)" in text
    assert "alpha_delta-0 ↔ alpha_delta-1" in text


def test_the_demo_acts_only_for_the_agents_up_started(db, busy):
    mine, _ = agents.register(db, {"codename": "scout-1", "team": "iota"})
    since = busy
    ours = started_agents(db, "iota", since)
    assert {a.codename for a in ours} == {"iota-0", "iota-1"}  # iota-2 stopped beating before `up` began
    made = federation.demo_topology(db, "iota", only=[a.id for a in ours])
    assert made["supervisor"] == "iota-0" and made["pairs"] == [["iota-0", "iota-1"]]
    assert federation.topology(db, mine.id) == {"partners": [], "supervisor": None, "subordinates": []}


