"""What Prometheus has pending or firing, read from its HTTP API (``GET /api/v1/alerts``).

The alert rules have one definition, ``metrics/prometheus/alerts.yml``, evaluated by Prometheus and
routed by Alertmanager; the board's own commands (``doctor``) show Prometheus' view instead of
evaluating a second set that would page an SRE twice and drift from the first.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from phoenix_board.board import errors


@dataclass(frozen=True)
class Alert:
    name: str
    state: str  # "pending" (condition true, `for` not yet elapsed) or "firing"
    severity: str
    summary: str


def active(prometheus_url: str, timeout: float = 5.0) -> list[Alert]:
    """The alerts of the board's rules (those with a runbook of ours) that Prometheus holds now."""
    url = prometheus_url.rstrip("/") + "/api/v1/alerts"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise errors.Unavailable(f"cannot read alerts from Prometheus at {prometheus_url}: {exc}") from None
    found = []
    for alert in body.get("data", {}).get("alerts", []):
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        if "/operations/runbooks/" not in annotations.get("runbook_url", ""):
            continue  # another application's rule on a shared Prometheus
        found.append(Alert(labels.get("alertname", "?"), alert.get("state", "?"), labels.get("severity", ""),
                           annotations.get("summary", "")))
    return sorted(found, key=lambda a: (a.state != "firing", a.name, a.summary))
