"""The beat's own alert evaluation: what is firing now, as seen from the board itself.

Prometheus evaluates ``metrics/prometheus/alerts.yml`` on scraped metrics; the beat evaluates the
rules it can judge from PostgreSQL directly, so that an operator without Prometheus still sees
them: ``phoenix_alerts_firing`` on /metrics, ``phoenix-board doctor``, and, when
``PHOENIX_ALERTMANAGER_URL`` is set, Alertmanager's v2 API (``POST /api/v2/alerts``: firing alerts
with their ``startsAt``, resolved ones with ``endsAt``).

* ConsciousnessBelowThreshold (critical): the latest global consciousness < CONSCIOUSNESS_THRESHOLD.
* NoActiveAgents (critical): a team has open tasks and no active agent.
* TaskBacklogGrowing (warning): a team got more tasks in the last hour than it completed.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from phoenix_board.board import consciousness, constants
from phoenix_board.board.db import Database

log = logging.getLogger(__name__)


def evaluate(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    firing: list[dict[str, Any]] = []
    latest = {row["team"]: row for row in consciousness.latest(db, now)}
    glob = latest.get("global")
    if glob and glob["global_consciousness"] < constants.CONSCIOUSNESS_THRESHOLD:
        firing.append({"alertname": "ConsciousnessBelowThreshold", "team": "", "severity": "critical",
                       "value": glob["global_consciousness"],
                       "summary": f"global consciousness {glob['global_consciousness']:.2f} is below "
                                  f"{constants.CONSCIOUSNESS_THRESHOLD}"})
    for row in db.all("alert_inputs", now=now):
        if row["open_tasks"] and not row["active_agents"]:
            firing.append({"alertname": "NoActiveAgents", "team": row["team"], "severity": "critical",
                           "value": row["open_tasks"],
                           "summary": f"team {row['team']} has {row['open_tasks']} open tasks and no active agent"})
    for row in db.all("backlog_last_hour", now=now):
        if row["created"] > row["completed"]:
            firing.append({"alertname": "TaskBacklogGrowing", "team": row["team"], "severity": "warning",
                           "value": row["created"] - row["completed"],
                           "summary": f"team {row['team']} got {row['created']} tasks in the last hour and "
                                      f"completed {row['completed']}"})
    return firing


def run(db: Database, now: datetime | None = None, alertmanager_url: str | None = None) -> int:
    """Evaluates, stores what fires (phoenix.alerts_firing), posts to Alertmanager; returns how many fire."""
    clock = now or datetime.now(UTC)
    before = {(a["alertname"], a["team"]): a for a in db.all("alerts_firing")}
    current = evaluate(db, clock)
    stored = db.all("alerts_replace", firing=json.dumps(current), now=clock)
    if alertmanager_url:
        resolved = [a for key, a in before.items() if key not in {(c["alertname"], c["team"]) for c in current}]
        post(alertmanager_url, stored, resolved, clock)
    return len(stored)


def _alert(a: dict[str, Any], starts: datetime, ends: datetime | None) -> dict[str, Any]:
    labels = {"alertname": a["alertname"], "severity": a["severity"], "source": "phoenix-beat"}
    if a["team"]:
        labels["team"] = a["team"]
    body = {"labels": labels, "annotations": {"summary": a["summary"]}, "startsAt": starts.isoformat()}
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


def post(url: str, firing: list[dict[str, Any]], resolved: list[dict[str, Any]], now: datetime) -> None:
    payload = [_alert(a, a["since"], None) for a in firing] + [_alert(a, a["since"], now) for a in resolved]
    if not payload:
        return
    request = urllib.request.Request(url.rstrip("/") + "/api/v2/alerts", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:  # Alertmanager away: the next evaluation posts again
        log.warning("could not post %d alert(s) to Alertmanager at %s: %s", len(payload), url, exc)
