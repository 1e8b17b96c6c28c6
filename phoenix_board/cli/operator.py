"""The operator's commands: `phoenix-board migrate` (the schema) and `phoenix-board doctor` (the
health of every part)."""

from __future__ import annotations

from datetime import timedelta

import redis
import typer
from rich.table import Table

from phoenix_board.board import agents, consciousness, constants, embedded, errors, gates, health, migrate, replica
from phoenix_board.board.session import open_board, open_replica
from phoenix_board.cli import render, toolkit
from phoenix_board.metrics import alerting
from phoenix_board.scheduler import jobs


def migrate_cmd(status: bool = typer.Option(False, "--status", help="Show applied and pending migrations only."),
                as_json: bool = toolkit.JsonOpt) -> None:
    """Create or update the board's schema (safe to run from many processes at once)."""
    s = toolkit.settings()
    with embedded.database_url(s) as url:
        if status:
            found = migrate.status(url, s.role_prefix)
            if as_json:
                toolkit.print_json(found)
            else:
                render.console.print(f"applied: {len(found['applied'])} migration(s), the last "
                                     f"{found['applied'][-1] if found['applied'] else '-'}", soft_wrap=True)
                render.console.print(f"pending: {', '.join(found['pending']) or 'none'}; function files to "
                                     f"re-apply: {', '.join(found['functions_pending']) or 'none'}", soft_wrap=True)
            return
        report = migrate.migrate(url, s.role_prefix)
    if report.changed:
        for name in report.migrations:
            render.console.print(f"applied migration {name}")
        render.console.print(f"applied {len(report.functions)} function file(s)")
    else:
        render.console.print("schema is up to date")


def doctor() -> None:
    """Report the mode, versions and health of every moving part; exit 1 if one is unhealthy."""
    s = toolkit.settings()
    table = Table(title="phoenix-board doctor", title_justify="left")
    for column in ("part", "state", "detail"):
        table.add_column(column)
    healthy = True
    with open_board(s, max_size=1, role="monitor") as db:
        m = consciousness.mode(db)
        table.add_row("postgresql", "ok", f"{m['postgres_version']}; timeline on {m['mode']}"
                      + (f" {m['timescaledb_version']} ({m['timescaledb_license']} licence)"
                         if m["timescaledb_version"] else ""))
        for job in consciousness.timescale_jobs(db):
            failed = job["last_run_status"] == "Failed"
            healthy &= not failed
            table.add_row(f"timescaledb {job['policy']}", "[red]failing[/red]" if failed else "ok",
                          f"job {job['job_id']} as {job['owner']}: last run {job['last_run_status'] or 'not yet'}, "
                          f"last success {render.ago(job['last_successful_finish'])}, "
                          f"{job['total_failures']} of {job['total_runs']} runs failed")
        if s.database_read_url:
            try:
                with open_replica(s, role="monitor") as rep:
                    seconds, behind = replica.lag(db, rep)
                table.add_row("replica", "ok", f"{seconds:.1f} s ({behind:.0f} bytes) behind the primary")
            except errors.BoardError as exc:
                healthy = False
                table.add_row("replica", "[red]down[/red]", exc.message)
        if s.redis_url:
            try:
                info = redis.Redis.from_url(s.redis_url, socket_timeout=2, socket_connect_timeout=2).info("server")
                table.add_row("broker", "ok", f"{info.get('redis_version', '?')} at {s.redis_url}")
            except (redis.RedisError, OSError) as exc:
                healthy = False
                table.add_row("broker", "[red]down[/red]", str(exc))
        else:
            table.add_row("broker", "-", "PHOENIX_REDIS_URL unset (embedded Valkey runs with `up`)")
        for row in db.all("metrics_board"):
            state = "ok" if row["active"] else ("[red]none active[/red]" if row["registered"] else "-")
            healthy &= bool(row["active"]) or not row["registered"]
            table.add_row(f"agents {row['team']}", state, f"{row['active']} active of {row['registered']} registered")
        dead = [a for a in agents.list_agents(db, limit=10_000) if health.agent_state(a) == "dead"]
        for agent in dead[:constants.DEAD_AGENTS_SHOWN]:  # by name: "2 of 3 active" does not say who
            table.add_row(f"agent {agent.codename}", "[red]dead[/red]",
                          f"no heartbeat for {render.ago(agent.last_heartbeat)[:-4]} (team {agent.team})")
        if len(dead) > constants.DEAD_AGENTS_SHOWN:
            table.add_row("agents", "[red]dead[/red]", f"{len(dead) - constants.DEAD_AGENTS_SHOWN} more (agents list)")
        # flow control: a held team or category is no fault, but its tasks wait (docs/concepts/flow-control.md);
        # a team paused longer than PHOENIX_PAUSE_ALERT_SECONDS is what TeamPausedTooLong reports
        for gate in gates.paused(db):
            if gate["held"] == "rate":
                continue  # a rate limit holds claims back for a moment at a time, by design
            late = gate["held"] == "paused" and gate["scope_kind"] == "team" and gate["paused_seconds"] > s.pause_alert_seconds
            healthy &= not late
            detail = (f"paused {render.duration(timedelta(seconds=gate['paused_seconds']))}"
                      + (f" ({render.safe(gate['paused_reason'])})" if gate["paused_reason"] else "")
                      if gate["held"] == "paused" else "a budget is spent until the next window (flow status)")
            table.add_row(f"flow {gate['scope_kind']} {gate['scope']}",
                          "[red]paused too long[/red]" if late else f"[yellow]{gate['held']}[/yellow]",
                          detail + f"; {gate['in_flight']} in flight")
        runs = db.all("beat_runs")
        if not runs:
            table.add_row("beat", "-", "no run recorded (start `phoenix-board beat`)")
        periods = jobs.periods()
        for run in runs:
            state = health.job_state(run, periods.get(run["job"]))
            healthy &= state == "ok"
            detail = (f"last run {render.ago(run['last_started_at'])}, last success {render.ago(run['last_success_at'])}, "
                      f"{run['last_duration_ms']:.1f} ms")
            if state == "stale":
                detail += f"; due every {periods[run['job']]:g} s: is the beat running? (`phoenix-board beat`, or `up`)"
            elif state == "failing":
                detail += f": {render.safe(run['last_error'])}"
            table.add_row(f"beat {run['job']}", state if state == "ok" else f"[red]{state}[/red]", detail)
    # alerts are Prometheus' to evaluate (metrics/prometheus/alerts.yml, their one definition):
    # doctor shows what it has pending or firing rather than judging a second, divergent set
    if s.prometheus_url:
        try:
            for alert in alerting.active(s.prometheus_url):
                healthy &= alert.state != "firing"
                colour = "red" if alert.state == "firing" else "yellow"
                table.add_row(f"alert {alert.name}", f"[{colour}]{alert.state} {alert.severity}[/{colour}]",
                              alert.summary)
        except errors.Unavailable as exc:
            healthy = False
            table.add_row("prometheus", "[red]down[/red]", exc.message)
    else:
        table.add_row("alerts", "-", "PHOENIX_PROMETHEUS_URL unset (alerts are evaluated by Prometheus)")
    render.console.print(table)
    if not healthy:
        raise typer.Exit(1)
