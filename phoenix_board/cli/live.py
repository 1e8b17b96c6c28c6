"""The live view of `phoenix-board up`: laid out for the terminal it has, most important first.

At 80×24 a newcomer sees the headline (throughput, what runs, Ctrl-C to stop), the agents (the
product's heart: hormones, trust, level, what each works on, dead ones marked) and a legend for
those scales; taller and wider terminals add tasks by status, the hottest live tasks and how the
agents work together (delegation, pairs, cascades). Each section is measured at the terminal's
width and only whole sections that fit are shown, so nothing scrolls off the top.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from phoenix_board.board import (agents, constants, consciousness, delegation, federation, gates, health, lifecycle, models,
                                 ranking)
from phoenix_board.board.db import Database
from phoenix_board.board.session import open_replica
from phoenix_board.board.settings import Settings
from phoenix_board.cli import render
from phoenix_board.scheduler import jobs as beat_jobs

# every status of the board's enum, unfinished work first (a stable sort keeps the enum's order)
STATUSES = tuple(s.value for s in sorted(models.TaskStatus, key=lambda s: s in models.FINISHED_STATUSES))
SHORT_STATUS = {"in_progress": "working", "cancelled": "cancel"}

LEGEND = ("hormones 0-5, at rest D1 O1 A1 C0.3: D dopamine (rewards) O oxytocin (approval) A adrenaline "
          "(deadlines) C cortisol (failures) · trust 0-1, 0.5 = no evidence · lvl: Fibonacci level of tasks done · "
          f"consciousness 100-110, alert under {constants.CONSCIOUSNESS_THRESHOLD:g} · `phoenix-board show ID`")


def services(s: Settings, api: str | None = None) -> str:
    """Which servers the board uses: Valkey is named as Valkey (the embedded broker is not Redis);
    and where the HTTP/GraphQL API listens, when up started it."""
    return (f"PostgreSQL {'embedded' if not s.database_url else 'given'}, "
            f"{'Valkey embedded' if not s.redis_url else 'broker given'}" + (f", API {api}" if api else ""))


@contextlib.contextmanager
def reader(s: Settings, primary: Database) -> Iterator[Database]:
    """Where the live view and `up`'s progress lines read: the read replica when one is set
    (``PHOENIX_DATABASE_READ_URL``, docs/operations/read-replicas.md), as the other listings do, so that
    redrawing every second adds no load to the primary; else the primary itself."""
    with open_replica(s, max_size=2) as replica:
        yield replica if replica is not None else primary


def view(db: Database, s: Settings, started: datetime, teams: list[str], agents_per_team: int, *,
         width: int, height: int, demo_error: str | None = None, now: datetime | None = None,
         api: str | None = None) -> RenderableType:
    """The whole view for a terminal of width × height: sections in order of importance, each
    kept only if it fits whole below the ones before it."""
    now = now or datetime.now(UTC)
    budget = max(height - 1, 4)  # Rich's Live keeps the cursor on a line of its own
    parts: list[RenderableType] = []

    def fits(renderable: RenderableType) -> bool:
        nonlocal budget
        lines = _height(renderable, width)
        if lines > budget:
            return False
        parts.append(renderable)
        budget -= lines
        return True

    fits(_headline(db, s, started, teams, agents_per_team, demo_error, services(s, api), now))
    crew = agents.list_agents(db, limit=500)
    crew = [a for a in crew if a.team in teams] or crew
    legend = Text.from_markup(LEGEND, style="dim")
    # the agents get whatever the legend leaves; rows past it are counted, not cut mid-table
    room = budget - _height(legend, width)
    fits(_agents(crew, width, room, now))
    fits(legend)
    fits(_by_status(db, teams))
    fits(_hot(db))
    for section in _together(db, started):  # each whole, or left out
        fits(section)
    return Group(*parts)


def _height(renderable: RenderableType, width: int) -> int:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    return len(console.render_lines(renderable, console.options.update(width=width), pad=False))


def _headline(db: Database, s: Settings, started: datetime, teams: list[str], n: int, demo_error: str | None,
              services: str, now: datetime) -> Text:
    summary = db.one("events_summary_since", since=started)
    elapsed = max(1.0, (now - started).total_seconds())
    latest = {r["team"]: r for r in consciousness.latest(db)}
    mind = " ".join(f"{team} {row['team_consciousness'] or row['global_consciousness']:.1f}"
                    for team, row in sorted(latest.items(), key=lambda kv: kv[0] == "global"))
    runs = db.all("beat_runs")
    periods = beat_jobs.periods()
    states = {r["job"]: health.job_state(r, periods.get(r["job"]), now) for r in runs}
    bad = {state: [job for job, st in states.items() if st == state] for state in ("stale", "failing")}
    beat = ("[red]beat: no run yet[/red]" if not runs else
            " ".join(f"[red]beat {state}: {', '.join(jobs)}[/red]" for state, jobs in bad.items() if jobs)
            or "beat ok")
    text = (f"[b]Phoenix Board[/b] up {int(elapsed) // 60}m{int(elapsed) % 60:02d}s · {len(teams)} team(s) × {n} agents"
            f" · [b]Ctrl-C to stop[/b]\n"
            f"tasks {summary['submitted']} in · {summary['completed']} done · {summary['failed']} failed · "
            f"{summary['completed'] / elapsed:.1f}/s · {beat}"
            + (f"\nconsciousness {mind}" if mind else "\nconsciousness: no snapshot yet")
            + (f" · {services}" if services else "")
            + _held(db, now)
            + (f"\n[red]demo error: {render.safe(demo_error)}[/red]" if demo_error else ""))
    return Text.from_markup(text)


def _held(db: Database, now: datetime) -> str:
    """The gates holding claims back (docs/concepts/flow-control.md), as a line; "" when none."""
    held = gates.paused(db, now)
    why = {"paused": "paused", "budget": "budget spent", "rate": "at its rate limit"}
    return ("\n[yellow]held: " + " · ".join(f"{g['scope_kind']} {render.safe(g['scope'])} {why[g['held']]}"
                                           for g in held) + "[/yellow]") if held else ""


def _agents(crew: list[Any], width: int, room: int, now: datetime) -> RenderableType:
    """One line per agent (render.agents_table), as many as the room left: its header takes three
    lines with the title and rule, the "more" caption one."""
    if room < 4:
        return Text(f"{len(crew)} agent(s): a taller terminal shows them", style="dim")
    limit = None if len(crew) + 3 <= room else room - 4
    return render.agents_table(crew, width=width, limit=limit, now=now)


def _by_status(db: Database, teams: list[str]) -> Table:
    counts = _table("tasks by status")
    counts.add_column("team", no_wrap=True)
    for st in STATUSES:
        counts.add_column(SHORT_STATUS.get(st, st), justify="right", no_wrap=True)
    by = {(r["team"], r["status"]): r["n"] for r in lifecycle.counts_by_status(db)}
    for team in teams:
        counts.add_row(team, *(str(by.get((team, st), 0)) for st in STATUSES))
    return counts


def _hot(db: Database) -> Table:
    rows, _ = ranking.page(db, "hot", statuses=["open", "claimed", "in_progress", "review"], limit=6)
    table = _table("hottest live tasks")
    for name in ("id", "title", "team", "status", "pri", "score"):
        table.add_column(name, justify="right" if name in ("pri", "score") else "left", no_wrap=name != "title",
                         overflow="ellipsis")
    short = render.ids.short(r["id"] for r in rows)
    for r in rows:
        table.add_row(short[str(r["id"])], render.safe(r["title"][:60]), r["team"], r["status"], str(r["priority"]),
                      f"{r['score']:+d}")
    return table


def _together(db: Database, started: datetime) -> list[RenderableType]:
    """How the agents work together: the latest delegation tree, who delegated to whom, the
    pairs and the latest cascades, as separate sections."""
    parts: list[RenderableType] = []
    root = db.one("delegation_latest_root", since=started)
    if root:
        parts.append(Group(Text("latest delegation tree", style="italic"),
                           render.task_tree(delegation.tree(db, root["id"]))))
    edges = db.all("delegation_edges", since=started, limit=6)
    if edges:
        table = _table("who delegated to whom")
        for column in ("delegator", "steps worked by", "steps", "completed"):
            table.add_column(column, justify="right" if column in ("steps", "completed") else "left")
        for e in edges:
            worker = "itself" if e["worker"] == e["delegator"] else render.safe(e["worker"])
            table.add_row(render.safe(e["delegator"]), worker, str(e["children"]), str(e["completed"]))
        parts.append(table)
    pairs = federation.pairs(db)[:6]
    if pairs:
        table = _table("partner pairs")
        for column in ("pair", "shared", "entanglement", "coherence"):
            table.add_column(column, justify="left" if column == "pair" else "right")
        for p in pairs:
            table.add_row(f"{render.safe(p['codename_a'])} ↔ {render.safe(p['codename_b'])}", str(p["shared"]),
                          f"{p['entanglement_strength']:.2f}", render.duration(p["coherence_time"]))
        parts.append(table)
    cascades = db.all("cascades_recent", since=started, limit=4)
    if cascades:
        table = _table("hormone cascades")
        for column in ("hormone", "agents reached", "edges", "hops", "when"):
            table.add_column(column, justify="left" if column == "hormone" else "right")
        for c in cascades:
            table.add_row(c["hormone"], str(c["reached"]), str(c["edges"]), str(c["hops"]), render.ago(c["at"]))
        parts.append(table)
    return parts


def _table(title: str | None = None) -> Table:
    # no side borders: at 80 columns every character goes to the data
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title=title, title_justify="left")


def renderer(db: Database, s: Settings, started: datetime, teams: list[str], n: int, console: Console,
             demo_error: Callable[[], str | None], api: str | None = None) -> Callable[[], RenderableType]:
    """What Rich's Live calls on every refresh: the view at the terminal's size of the moment."""
    def build() -> RenderableType:
        size = console.size
        return view(db, s, started, teams, n, width=size.width, height=size.height, demo_error=demo_error(), api=api)
    return build
