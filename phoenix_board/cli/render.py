"""Rich rendering for the board's commands, and the relative times people type and read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from phoenix_board.board import errors, health, ids, models

console = Console()
err_console = Console(stderr=True)  # progress and problems, so that stdout stays the answer
_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Characters that act on a terminal instead of being shown: C0/C1 controls (ESC starts colour,
# clear-screen, window-title and hyperlink sequences) and the bidirectional formatting marks that
# reorder what follows them (a right-to-left override makes "exe.txt" read as "txt.exe").
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ACTIVE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")


def plain(value: Any) -> str:
    """User text made inert for any output: every control and bidi character becomes its visible
    escape (``\\x1b``, ``\\u202e``), so it is shown, never obeyed. For ``print`` and error lines."""
    text = value if isinstance(value, str) else str(value)
    return _ACTIVE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def safe(value: Any) -> str:
    """User text (titles, names, comments, reasons, outputs) for a Rich string: inert as in
    :func:`plain`, and with Rich markup escaped, so ``[/]`` or ``[link=…]`` is shown as typed.
    Every place that puts something a user wrote into Rich output goes through here."""
    return escape(plain(value))


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``+30m``, ``+2h``, ``+1d`` from now, or an ISO 8601 time with a zone."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        try:
            return now + timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise errors.InvalidInput(f"time {text[:40]!r} is too far ahead; dates end at year 9999") from None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.InvalidInput(f"time {text[:40]!r} is neither +N[s|m|h|d] nor ISO 8601 (2026-12-01T12:00:00Z)") from None
    if value.tzinfo is None:
        raise errors.InvalidInput(f"time {text[:40]!r} has no time zone; add Z or +01:00")
    return value


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: ``12s ago``, ``in 5m``, ``3d ago``; ``-`` for none."""
    if when is None:
        return "-"
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    text = _span(abs(seconds))
    return f"in {text}" if seconds < 0 else f"{text} ago"


def duration(span: timedelta | None) -> str:
    """A short length of time: ``45s``, ``12m``, ``3d``; ``-`` for none."""
    return "-" if span is None else _span(span.total_seconds())


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, indent=2, sort_keys=True)


def _compact(title: str | None = None) -> Table:
    # no side borders and no cell padding at the edges: at 80 columns every character goes to data
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title=title, title_justify="left")


def _width(width: int | None) -> int:
    return console.width if width is None else width


def board_table(rows: list[dict[str, Any]], sort: str, width: int | None = None) -> Table:
    """A page of the board. Below 110 columns the team, size, hot score and comment count give way
    to the title (`show ID` has them all)."""
    wide = _width(width) >= 110
    table = _compact(f"board ({sort})")
    names = ["id", "title", "team", "status", "pri", "size", "score", "hot", "comments", "age"] if wide else \
        ["id", "title", "status", "pri", "score", "age"]
    for name in names:
        table.add_column(name, justify="left" if name in ("id", "title", "team", "status") else "right",
                         no_wrap=name != "title", overflow="ellipsis")
    short = ids.short(r["id"] for r in rows)
    for r in rows:
        cells = {"id": short[str(r["id"])], "title": safe(r["title"][:60]), "team": safe(r["team"]),
                 "status": r["status"], "pri": str(r["priority"]), "size": str(r["fibonacci_size"]),
                 "score": f"{r['score']:+d}", "hot": f"{r['hot_score']:.4f}", "comments": str(r["comment_count"]),
                 "age": ago(r["created_at"])}
        table.add_row(*(cells[n] for n in names))
    return table


def task_view(task: models.Task, votes: list[dict[str, Any]], reviews: list[dict[str, Any]],
              thread: list[dict[str, Any]], events: list[dict[str, Any]]) -> Tree:
    tree = Tree(f"[bold]{safe(task.title)}[/bold]  id [bold]{ids.short_one(task.id)}[/bold] [dim]({task.id})[/dim]")
    tree.add(f"status {task.status.value}, attempt {task.attempt}/{task.max_attempts}, team {safe(task.team)}, "
             f"category {safe(task.category)}, priority {task.priority}, size {task.fibonacci_size}")
    tree.add(f"votes +{task.upvotes} -{task.downvotes} (score {task.score:+d}), hot {task.hot_score:.4f}, "
             f"controversy {task.controversy:.3f}")
    if task.assigned_to:
        tree.add(f"assigned to {task.assigned_to}, lease expires {ago(task.lease_expires_at)}")
    if task.deadline:
        tree.add(f"deadline {task.deadline.isoformat()} ({ago(task.deadline)})")
    if task.depends_on:
        tree.add(f"depends on {', '.join(ids.short_one(d) for d in task.depends_on)} ({task.pending_deps} unfinished)")
    if task.blocks:
        tree.add(f"blocks {', '.join(ids.short_one(b) for b in task.blocks)}")
    if task.description:
        tree.add(safe(task.description[:500]))
    if task.output is not None:
        tree.add(f"output (quality {task.quality_score}): {safe(json.dumps(task.output)[:300])}")
    if task.last_error:
        tree.add(f"[red]last error:[/red] {safe(task.last_error)}")
    if votes:
        branch = tree.add(f"votes ({len(votes)})")
        for v in votes:
            branch.add(f"{'+1' if v['vote'] > 0 else '-1'} {safe(v['codename'])} {ago(v['at'])}" + (f": {safe(v['reason'])}" if v["reason"] else ""))
    if reviews:
        branch = tree.add(f"reviews ({len(reviews)})")
        for r in reviews:
            branch.add(f"attempt {r['attempt']}: {'approve' if r['verdict'] > 0 else 'reject'} by {safe(r['codename'])} "
                       f"(weight {r['weight']:.2f})" + (f": {safe(r['reason'])}" if r["reason"] else ""))
    if thread:
        branch = tree.add(f"comments ({len(thread)})")
        short = ids.short(c["id"] for c in thread)
        for c in thread:
            branch.add(f"{'  ' * c['depth']}{safe(c['codename'])} [{c['upvotes'] - c['downvotes']:+d}] "
                       f"{ago(c['created_at'])} [dim]{short[str(c['id'])]}[/dim]: {safe(c['content'][:200])}")
    branch = tree.add(f"events ({len(events)})")
    for e in events:
        who = f" by {safe(e['codename'])}" if e["codename"] else ""
        detail = f" {safe(json.dumps(e['detail']))}" if e["detail"] else ""
        branch.add(f"{e['at']:%Y-%m-%d %H:%M:%S} {e['kind']}{who} (attempt {e['attempt']}){detail}")
    return tree


def agents_table(agents: list[models.Agent], width: int | None = None, limit: int | None = None,
                 now: datetime | None = None) -> Table:
    """One line per agent: hormones, trust, counters, level, its task, its last heartbeat (dead
    ones marked). Below 110 columns the team goes and the four hormones share one column (D O A C);
    with ``limit``, rows past it are counted in the caption instead of shown."""
    wide = _width(width) >= 110
    now = now or datetime.now(UTC)
    table = _compact("agents")
    table.add_column("agent", no_wrap=True, overflow="ellipsis", max_width=28)
    if wide:
        table.add_column("team", no_wrap=True)
        for name in ("dopa", "oxy", "adre", "cort"):
            table.add_column(name, justify="right", no_wrap=True)
    else:
        table.add_column("D   O   A   C", no_wrap=True)
    for name in ("trust", "done", "fail", "lvl"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("task", no_wrap=True)
    table.add_column("seen", justify="right", no_wrap=True)
    shown = agents if limit is None else agents[:max(limit, 0)]
    for a in shown:
        h = a.hormone_levels
        levels = [f"{h.dopamine:.1f}", f"{h.oxytocin:.1f}", f"{h.adrenaline:.1f}", f"{h.cortisol:.1f}"]
        name = safe(a.codename) + (" (decommissioned)" if a.decommissioned_at else "")
        cells = [name, *([safe(a.team), *levels] if wide else [" ".join(f"{v:>3}" for v in levels)])]
        cells += [f"{a.trust_coefficient:.2f}", str(a.tasks_completed), str(a.tasks_failed), str(a.fibonacci_level),
                  ids.short_one(a.current_task) if a.current_task else "-", heartbeat(a, now)]
        table.add_row(*cells)
    if len(shown) < len(agents):
        table.caption = f"{len(agents) - len(shown)} more agent(s): a taller terminal, or `phoenix-board agents list`"
        table.caption_justify = "left"
    return table


def agent_tasks_table(rows: list[dict[str, Any]]) -> Table:
    """An agent's recent tasks: what each is now and how this agent's last event on it went."""
    table = _compact("recent tasks")
    for name in ("id", "title", "status", "its last event", "attempt", "when"):
        table.add_column(name, justify="right" if name in ("attempt", "when") else "left", no_wrap=name == "id")
    short = ids.short(r["id"] for r in rows)
    for r in rows:
        table.add_row(short[str(r["id"])], safe(r["title"][:50]), r["status"], r["last_event"], str(r["attempt"]),
                      ago(r["at"]))
    return table


def members_table(members: list[models.Agent]) -> Table:
    """One line per member (a person): team, trust, since when, removed or not."""
    table = _compact("members")
    for name in ("member", "team", "trust", "added", "id"):
        table.add_column(name, justify="right" if name == "trust" else "left", no_wrap=True)
    for m in members:
        name = safe(m.codename) + (" (removed)" if m.decommissioned_at else "")
        table.add_row(name, safe(m.team), f"{m.trust_coefficient:.2f}", ago(m.created_at), str(m.id))
    return table


def waiting_table(rows: list[dict[str, Any]]) -> Table:
    """Tasks in review that wait for a person: the verdicts so far and how long they have waited."""
    table = _compact("waiting for people")
    for name in ("id", "title", "team", "by", "verdicts", "consensus", "waiting"):
        table.add_column(name, justify="right" if name in ("verdicts", "consensus", "waiting") else "left",
                         no_wrap=name == "id")
    short = ids.short(r["id"] for r in rows)
    for r in rows:
        table.add_row(short[str(r["id"])], safe(r["title"][:50]), safe(r["team"]), safe(r["executor"] or "-"),
                      f"{r['verdicts']}/{r['quorum']}", f"{r['consensus']:+.2f}", ago(r["review_since"]))
    return table


def failures_table(rows: list[dict[str, Any]], since: datetime) -> Table:
    """Failed attempts grouped by reason (the dead-letter view), most first."""
    table = _compact(f"failures since {since:%Y-%m-%d %H:%M} UTC")
    for name in ("attempts", "final", "tasks", "reason", "teams", "kinds", "latest", "task"):
        table.add_column(name, justify="right" if name in ("attempts", "final", "tasks", "latest") else "left",
                         no_wrap=name in ("attempts", "final", "tasks", "latest", "task"))
    short = ids.short(r["latest_task"] for r in rows)
    for r in rows:
        table.add_row(str(r["attempts"]), str(r["final"]), str(r["tasks"]), safe(r["reason"][:80]),
                      safe(", ".join(r["teams"])), ", ".join(r["kinds"]), ago(r["last_at"]),
                      short[str(r["latest_task"])])
    return table


def teams_table(rows: list[dict[str, Any]]) -> Table:
    table = _compact("teams")
    for name in ("team", "agents", "live tasks", "description"):
        table.add_column(name, justify="right" if name in ("agents", "live tasks") else "left")
    for r in rows:
        table.add_row(r["name"], str(r["agents"]), str(r["live_tasks"]), safe(r["description"][:60]))
    return table


def schedules_table(rows: list[dict[str, Any]], now: datetime | None = None) -> Table:
    """Schedules (board/schedules.py view): when each fires next (in its own zone), the last slot
    it fired, and what went wrong last."""
    table = _compact("schedules")
    for name in ("name", "cron", "zone", "catch-up", "next fire", "last slot", "missed", "team", "task", "last error"):
        table.add_column(name, justify="right" if name == "missed" else "left")
    for r in rows:
        nxt = "[yellow]paused[/yellow]" if r["paused"] else _local(r["next_fire"], r["timezone"], now)
        table.add_row(safe(r["name"]), safe(r["cron"]), safe(r["timezone"]), r["catch_up"], nxt,
                      _local(r["last_slot"], r["timezone"], now), str(r["missed"]), safe(r["team"]),
                      safe((r["title"] or "")[:40]), safe((r["last_error"] or "-")[:60]))
    return table


def _local(when: datetime | None, zone: str, now: datetime | None) -> str:
    if when is None:
        return "-"
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M:%S %Z} ({ago(when, now)})"
def gates_table(rows: list[dict[str, Any]]) -> Table:
    """Flow control's gates (docs/concepts/flow-control.md): what holds each scope back now."""
    table = _compact("flow control")
    for name in ("scope", "held", "paused", "rate/min", "budget hour", "budget day", "in flight"):
        table.add_column(name, justify="right" if name in ("rate/min", "in flight") else "left")
    for r in rows:
        held = {"paused": "[yellow]paused[/yellow]", "budget": "[red]budget spent[/red]",
                "rate": "[cyan]rate[/cyan]"}.get(r["held"] or "", "-")
        table.add_row(f"{r['scope_kind']} {safe(r['scope'])}", held,
                      f"{duration(timedelta(seconds=r['paused_seconds']))}" if r["paused_at"] else "-",
                      str(r["rate_per_minute"] or "-"),
                      _budget(r["hour_cost"], r["budget_hour_cost"], r["hour_tokens"], r["budget_hour_tokens"]),
                      _budget(r["day_cost"], r["budget_day_cost"], r["day_tokens"], r["budget_day_tokens"]),
                      str(r["in_flight"]))
    return table


def _budget(cost: Any, cost_max: Any, tokens: Any, tokens_max: Any) -> str:
    parts = []
    if cost_max is not None:
        parts.append(f"{float(cost):.2f}/{float(cost_max):.2f}")
    if tokens_max is not None:
        parts.append(f"{tokens}/{tokens_max} tok")
    return ", ".join(parts) or "-"


def usage_table(rows: list[dict[str, Any]]) -> Table:
    """Usage reported by results, per agent, team and model."""
    table = _compact("usage")
    for name in ("agent", "team", "model", "attempts", "tokens in", "tokens out", "cost"):
        table.add_column(name, justify="left" if name in ("agent", "team", "model") else "right")
    for r in rows:
        table.add_row(safe(r["codename"] or "-"), r["team"], safe(r["model"] or "-"), str(r["attempts"]),
                      str(r["tokens_in"]), str(r["tokens_out"]), f"{float(r['cost']):.4f}")
    return table


def heartbeat(agent: models.Agent, now: datetime | None = None) -> str:
    """An agent's last heartbeat, or how long it has been dead (see board.health)."""
    now = now or datetime.now(UTC)
    if health.agent_state(agent, now) == "dead":
        return f"[red]dead {duration(now - agent.last_heartbeat)}[/red]"
    return ago(agent.last_heartbeat, now)


_STATUS_STYLE = {"complete": "green", "failed": "red", "cancelled": "dim", "waiting": "yellow",
                 "in_progress": "cyan", "claimed": "cyan", "review": "magenta", "open": "white"}


def task_tree(rows: list[dict[str, Any]]) -> Tree:
    """A delegation tree (rows depth first, as delegation.tree returns them): status, who works
    each task, who delegated it and how far its join has come."""

    short = ids.short(r["id"] for r in rows)

    def label(r: dict[str, Any]) -> str:
        style = _STATUS_STYLE.get(r["status"], "white")
        parts = [f"[{style}]{r['status']}[/{style}]", f"[bold]{safe(r['title'])}[/bold]", f"[dim]{short[str(r['id'])]}[/dim]"]
        if r["agent"]:
            parts.append(f"agent {safe(r['agent'])}")
        if r["children_total"]:
            # "join 2/2 of 2 (fail)" read as a failed join: say what is counted and what a failure does
            need = r["join_k"] or r["children_total"]
            parts.append(f"steps done {r['children_done']} of {r['children_total']} (needs {need}"
                         + (f", {r['children_failed']} failed" if r["children_failed"] else "")
                         + ("; a failed step fails it)" if r["on_child_failure"] == "fail" else "; failed steps ignored)"))
        if r["delegated_by"]:
            parts.append(f"delegated by {safe(r['delegated_by'])}")
        if r["escalated_to"]:
            parts.append(f"escalated to {safe(r['escalated_to'])}")
        return "  ".join(parts)

    root = Tree(label(rows[0]))
    nodes = {rows[0]["id"]: root}
    for r in rows[1:]:
        nodes[r["id"]] = nodes[r["parent_id"]].add(label(r))
    return root
