"""The monitoring stack's configuration: alert rules and their unit tests (promtool), the scrape
configuration as a real Prometheus loads it, Grafana's provisioning and dashboards, Alertmanager's
configuration, the Dockerfile and docker-compose.yml with its env file.

Tests that need a tool skip, saying which package provides it, only when its binary is missing
(`.ci/run` installs them); everything else is checked always. No YAML library is needed: rules
come from Prometheus' own API, compose's view of the stack from `docker-compose config`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenix_board.metrics import definitions
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "metrics" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = REPO / "metrics" / "alertmanager" / "alertmanager.yml"
GRAFANA = REPO / "metrics" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

ALERT_NAMES = {
    "DatabaseConnectionsHigh", "ConsciousnessBelowThreshold", "TaskBacklogGrowing", "NoActiveAgents",
    "LeasesExpiringFasterThanCompletions", "BeatNotRunning", "QueueBackingUp", "TaskFailureRateHigh",
    "PhoenixMetricsDown", "EventRelayLagging", "ReviewStalled", "DatabaseReplicaLagging",
    "TimescaleDBJobFailing", "ScheduleMissedSlots", "TaskQueueLagging", "TeamPausedTooLong", "BudgetExhausted",
}

# The exporter's metric contract (docs/operations/metrics.md): the only series rules and dashboards may use,
# read from the one module that defines every metric
CONTRACT_METRICS = (
    set().union(*(metric.exposed() for metric in definitions.METRICS))
    | {"up", "ALERTS"}  # written by Prometheus: for every target, for every pending or firing alert
)
CONTRACT_LABELS = (
    {label for metric in definitions.METRICS for label in metric.labels}
    | {"le", "job", "instance", "alertname", "severity", "alertstate"}  # Prometheus' and the rules' own
)
RUNBOOK_BASE = "https://runbooks.example.org/phoenix"

PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time",
    "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar",
    "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan",
}

DATASOURCE_UIDS = {"phoenix-prometheus": "prometheus", "phoenix-postgres": "grafana-postgresql-datasource"}
HOT_TASKS_SQL = ("SELECT title, team, status, score, hot_score FROM phoenix.tasks "
                 "WHERE status IN ('open','claimed','in_progress','review') "
                 "ORDER BY hot_score DESC, created_at DESC LIMIT 20")
SQL_RELATIONS = {"phoenix.consciousness_timeline", "phoenix.consciousness_hourly", "phoenix.tasks"}
REQUIRED_SECRETS = ("POSTGRES_USER", "POSTGRES_PASSWORD", "PHOENIX_MONITOR_USER", "PHOENIX_MONITOR_PASSWORD",
                    "GRAFANA_ADMIN_PASSWORD", "PHOENIX_RUNBOOK_BASE_URL")
APP_SERVICES = {"migrate", "workers-alpha-delta", "workers-epsilon-zeta", "workers-iota", "beat", "metrics", "relay", "api"}
WORKER_TEAMS = {"workers-alpha-delta": "alpha_delta", "workers-epsilon-zeta": "epsilon_zeta",
                "workers-iota": "iota"}
GRAFANA_DASHBOARD_PATH = "/var/lib/grafana/dashboards/phoenix"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian/Ubuntu: apt-get install {package}; .ci/run installs it)")
    return path


def run(args: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# ------------------------------------------------------------------------------- PromQL analysis

def promql_metrics_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and label names an expression mentions (functions and keywords left out)."""
    labels: set[str] = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)          # string literals
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)                                        # ranges, subqueries
    for keyword, names in re.findall(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels.update(n.strip() for n in names.split(",") if n.strip())
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    metrics = set()
    for token in re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*", text):
        if token.lower() not in PROMQL_WORDS and token not in PROMQL_FUNCTIONS:
            metrics.add(token)
    return metrics, labels


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by values PromQL accepts."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", "alpha_delta", expr)


def test_promql_analysis_finds_metrics_and_labels():
    metrics, labels = promql_metrics_and_labels(
        'histogram_quantile(0.9, sum by (team, le) (rate(phoenix_wake_latency_seconds_bucket{team=~"a|b"}[5m])))'
        ' > 1e3 and on (team) label_replace(up{job="x"}, "kind", "y", "", "") offset 5m')
    assert metrics == {"phoenix_wake_latency_seconds_bucket", "up"}
    assert labels == {"team", "le", "job"}


# --------------------------------------------------------------------------------- promtool

def test_alert_rules_pass_promtool_check():
    promtool = tool("promtool", "prometheus")
    result = run([promtool, "check", "rules", str(ALERTS)])
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in result.stdout, output(result)


def test_alert_unit_tests_pass():
    promtool = tool("promtool", "prometheus")
    result = run([promtool, "test", "rules", str(ALERTS_TEST)])
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_prometheus_config_passes_promtool_check_from_any_directory(tmp_path):
    """rule_files and the targets files are relative to prometheus.yml, so the check works wherever
    it is run."""
    promtool = tool("promtool", "prometheus")
    result = run([promtool, "check", "config", str(PROMETHEUS_CONFIG)], cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert "1 rule files found" in result.stdout and f"{len(ALERT_NAMES)} rules found" in result.stdout, output(result)


def _unit_test_cases() -> list[tuple[str, int, bool]]:
    """(alertname, eval time in seconds, expects alerts) of every alert_rule_test in alerts_test.yml."""
    text = ALERTS_TEST.read_text()
    cases = re.findall(r"- eval_time: (\d+)m\n\s+alertname: (\w+)\n\s+exp_alerts:(.*)\n", text)
    assert len(cases) == text.count("eval_time:"), \
        "write every alert_rule_test of alerts_test.yml as three block lines: eval_time (in minutes), alertname, exp_alerts"
    return [(name, int(minutes) * 60, values.strip() != "[]") for minutes, name, values in cases]


def test_every_alert_has_unit_tests_before_and_after_its_for(alert_rules):
    """Each alert: an evaluation where it fires (after its `for`), an earlier one where it does not
    fire yet, and one after its `for` where it stays quiet. test_unit_tests_catch_a_broken_rule
    proves that the early ones see the alert pending, not merely a condition that is false."""
    cases = _unit_test_cases()
    for name, rule in alert_rules.items():
        wait = rule["duration"]
        mine = [(at, firing) for alert, at, firing in cases if alert == name]
        fires = [at for at, firing in mine if firing]
        assert fires and min(fires) >= wait, f"{name}: no test where it fires after its for ({wait:.0f} s)"
        assert any(not firing and 0 < at < min(fires) for at, firing in mine), \
            f"{name}: no test that it is not firing yet before the evaluation where it fires"
        assert any(not firing and at >= wait for at, firing in mine), \
            f"{name}: no test that it stays quiet (exp_alerts: []) after its for when the condition does not hold"
    assert {name for name, _, _ in cases} <= set(alert_rules), "alerts_test.yml tests an alert that does not exist"


def _alert_block(lines: list[str], name: str) -> tuple[int, int]:
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"\s*- alert: {name}\s*", line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    return start, end


def _mutated(name: str, mutation: str) -> str:
    """alerts.yml with one alert changed: its `for` set to 0s, or its expr made never true."""
    lines = ALERTS.read_text().splitlines()
    start, end = _alert_block(lines, name)
    block = lines[start:end]
    if mutation == "no-for":
        changed = [re.sub(r"^(\s*)for: \S+", r"\1for: 0s", line) for line in block]
    else:
        i = next(i for i, line in enumerate(block) if line.lstrip().startswith("expr:"))
        key_indent = len(block[i]) - len(block[i].lstrip())
        j = i + 1
        if block[i].rstrip().endswith("|"):
            while j < len(block) and (not block[j].strip() or len(block[j]) - len(block[j].lstrip()) > key_indent):
                j += 1
        changed = block[:i] + [" " * key_indent + "expr: vector(1) < 0"] + block[j:]
    assert changed != block, f"could not apply {mutation} to {name}"
    return "\n".join(lines[:start] + changed + lines[end:]) + "\n"


def _unit_tests_of(name: str) -> str:
    """alerts_test.yml with only the test groups of one alert (their names start with it)."""
    head, *groups = re.split(r"(?m)^(?=  - name: )", ALERTS_TEST.read_text())
    mine = [g for g in groups if g.startswith(f"  - name: {name} ")]
    assert mine, f"alerts_test.yml has no group named after {name}"
    return head + "".join(mine)


def test_unit_test_groups_are_named_after_their_alert():
    groups = re.findall(r"(?m)^  - name: (\w+) ", ALERTS_TEST.read_text())
    assert groups and set(groups) == ALERT_NAMES, sorted(set(groups) ^ ALERT_NAMES)


@pytest.mark.parametrize("mutation", ["no-for", "never-true"])
@pytest.mark.parametrize("name", sorted(ALERT_NAMES))
def test_unit_tests_catch_a_broken_rule(tmp_path, name, mutation):
    """The unit tests really exercise each rule: dropping its `for` or its condition fails them."""
    promtool = tool("promtool", "prometheus")
    (tmp_path / "alerts.yml").write_text(_mutated(name, mutation))
    (tmp_path / "alerts_test.yml").write_text(_unit_tests_of(name))  # its groups only: faster
    assert run([promtool, "check", "rules", "alerts.yml"], cwd=tmp_path).returncode == 0
    result = run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path)
    assert result.returncode != 0, f"alerts_test.yml still passes with {name} changed ({mutation})"
    assert f"alertname: {name}," in result.stdout + result.stderr, output(result)


# ------------------------------------------------------------- Prometheus loading the configuration

def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    """A real Prometheus started with metrics/prometheus/prometheus.yml; yields its base URL."""
    binary = tool("prometheus", "prometheus")
    data = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    log = (data / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={PROMETHEUS_CONFIG}", f"--storage.tsdb.path={data / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--enable-feature=expand-external-labels"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PHOENIX_RUNBOOK_BASE_URL": RUNBOOK_BASE})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Prometheus did not start with prometheus.yml:\n" + (data / "prometheus.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def alert_rules(prometheus) -> dict[str, dict]:
    """Every alerting rule as Prometheus parsed it: name, query, duration, labels, annotations."""
    deadline = time.monotonic() + 30
    while True:
        groups = _get_json(f"{prometheus}/api/v1/rules?type=alert")["data"]["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        if rules or time.monotonic() > deadline:
            return rules
        time.sleep(0.2)


def test_prometheus_loads_every_alert(alert_rules):
    assert set(alert_rules) == ALERT_NAMES


def test_prometheus_finds_its_targets_in_files_and_needs_no_honor_labels(prometheus):
    """The shipped targets files point at one host outside compose; compose mounts its own."""
    deadline = time.monotonic() + 30
    while True:  # service discovery hands Prometheus its static targets shortly after start
        targets = _get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
        phoenix = [t for t in targets if t["labels"].get("job") == "phoenix"]
        if phoenix or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [t["scrapeUrl"] for t in phoenix] == ["http://127.0.0.1:9464/metrics"]
    config = _get_json(f"{prometheus}/api/v1/status/config")["data"]["yaml"]
    assert "honor_labels: true" not in config, "the beat's metrics carry beat_job, not the reserved job"
    assert re.search(r"job_name: phoenix\n(?:  .*\n)*?  scrape_interval: 15s\n", config)
    assert f"runbook_base_url: {RUNBOOK_BASE}" in config
    managers = _get_json(f"{prometheus}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == ["http://127.0.0.1:9093/api/v2/alerts"]
    compose_targets = {p.name: p.read_text() for p in (PROMETHEUS_DIR / "compose-targets").glob("*.yml")}
    assert '"metrics:9464"' in compose_targets["exporter.yml"]
    assert '"alertmanager:9093"' in compose_targets["alertmanager.yml"]


@pytest.mark.parametrize("name", sorted(ALERT_NAMES))
def test_alert_has_for_severity_annotations_and_runbook(alert_rules, name):
    rule = alert_rules[name]
    assert rule["duration"] > 0, f"{name} needs a `for`"
    assert rule["labels"].get("severity") in {"warning", "critical"}
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    assert "$labels" in annotations["description"] or "$value" in annotations["description"]
    assert annotations["runbook_url"] == ("{{ $externalLabels.runbook_base_url }}"
                                          + f"/operations/runbooks/{name.lower()}.html")


def test_every_runbook_url_points_at_a_runbook_page(alert_rules):
    # the URL names the built page; its source is docs/operations/runbooks/<alert>.md
    pages = {rule["annotations"]["runbook_url"]: REPO / "docs" / (
        rule["annotations"]["runbook_url"].split("}}/", 1)[1].removesuffix(".html") + ".md")
        for rule in alert_rules.values()}
    missing = sorted(url for url, page in pages.items() if not page.is_file())
    assert not missing, f"no runbook page for {missing}"


def test_alert_expressions_use_only_the_metric_contract(alert_rules):
    for name, rule in alert_rules.items():
        metrics, labels = promql_metrics_and_labels(rule["query"])
        assert metrics and metrics <= CONTRACT_METRICS, f"{name}: {sorted(metrics - CONTRACT_METRICS)}"
        assert labels <= CONTRACT_LABELS, f"{name}: labels {sorted(labels - CONTRACT_LABELS)}"


# ------------------------------------------------------------------------------------ Grafana

def _provisioned_datasources() -> dict[str, dict[str, str]]:
    """uid -> {type, url, ...} of datasources.yml's entries (one `- name:` block each)."""
    result = {}
    for block in re.split(r"\n  - name: ", DATASOURCES.read_text())[1:]:
        fields = dict(re.findall(r"^\s+(uid|type|url|user|database|timescaledb|password): (\S+)", block, flags=re.M))
        result[fields["uid"]] = fields
    return result


def test_datasources_are_prometheus_and_the_timescale_database_without_secrets():
    sources = _provisioned_datasources()
    assert {uid: s["type"] for uid, s in sources.items()} == DATASOURCE_UIDS
    assert sources["phoenix-prometheus"]["url"] == "http://prometheus:9090"
    pg = sources["phoenix-postgres"]
    # true would make Grafana's time macros time_bucket(), missing on plain PostgreSQL
    assert (pg["url"], pg["database"], pg["timescaledb"]) == ("db:5432", "phoenix", "false")
    assert pg["user"] == "${PHOENIX_MONITOR_USER}"
    assert pg["password"] == "${PHOENIX_MONITOR_PASSWORD}"


def test_dashboard_provider_reads_the_mounted_folder():
    text = DASHBOARD_PROVIDERS.read_text()
    assert re.search(rf"^\s+path: {re.escape(GRAFANA_DASHBOARD_PATH)}\s*$", text, flags=re.M)
    assert re.search(r"^\s+type: file\s*$", text, flags=re.M)


def _panels(dashboard: dict) -> Iterator[dict]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # inside collapsed rows


def _targets(dashboard: dict) -> Iterator[tuple[dict, dict]]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def test_dashboards_exist():
    assert {p.name for p in DASHBOARDS} == {"federation.json", "board.json", "agents.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_and_uses_provisioned_datasources(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    assert dashboard["schemaVersion"] >= 36
    assert len(dashboard["uid"]) <= 40
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    refs = []
    for panel in _panels(dashboard):
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel.get("title"), f"panel {panel['id']} has no title"
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        refs.append((panel["title"], panel["datasource"]))
        refs.extend((panel["title"], t["datasource"]) for t in panel["targets"] if "datasource" in t)
    refs.extend((v["name"], v["datasource"]) for v in dashboard["templating"]["list"] if "datasource" in v)
    for where, ref in refs:
        assert ref["uid"] in DATASOURCE_UIDS, f"{where}: datasource {ref} is not provisioned"
        assert ref["type"] == DATASOURCE_UIDS[ref["uid"]], f"{where}: datasource {ref} has the wrong type"
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))


def _prometheus_expressions() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel, target in _targets(dashboard):
            if target.get("datasource", panel["datasource"])["type"] == "prometheus":
                found.append((f"{path.name}: {panel['title']} {target['refId']}", target["expr"]))
        for variable in dashboard["templating"]["list"]:
            if variable.get("datasource", {}).get("type") == "prometheus":
                query = variable["definition"]
                inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
                found.append((f"{path.name}: variable {variable['name']}", inner.group(1) if inner else query))
    return found


def test_dashboard_promql_uses_only_the_metric_contract():
    for where, expr in _prometheus_expressions():
        metrics, labels = promql_metrics_and_labels(grafana_to_promql(expr))
        assert metrics and metrics <= CONTRACT_METRICS, f"{where}: {sorted(metrics - CONTRACT_METRICS)}"
        assert labels <= CONTRACT_LABELS, f"{where}: labels {sorted(labels - CONTRACT_LABELS)}"


def test_dashboard_status_filters_follow_the_status_enum():
    """A status list in a dashboard names only TaskStatus values, and an exclusion is exactly the
    finished statuses, so that a status added to the board (waiting, cancelled) shows up."""
    from phoenix_board.board.models import FINISHED_STATUSES, TaskStatus

    for where, expr in _prometheus_expressions():
        for op, values in re.findall(r'status\s*(=~|!~|=|!=)\s*\\?"([^"\\]*)', expr):
            named = set(values.split("|"))
            assert named <= {s.value for s in TaskStatus}, f"{where}: {named}"
            if op == "!~":
                assert named == {s.value for s in FINISHED_STATUSES}, f"{where}: {named}"
            if op == "=~":
                assert False, f"{where}: list the finished statuses to leave out (!~), not the others"


def test_dashboard_promql_parses(tmp_path):
    """Every dashboard expression, variables substituted, as a recording rule that promtool checks."""
    promtool = tool("promtool", "prometheus")
    expressions = _prometheus_expressions()
    rules = [{"record": f"dashboard:expression_{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(expressions)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))  # JSON is YAML
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, output(result) + "\n" + "\n".join(f"{i}: {w}" for i, (w, _) in enumerate(expressions))


def _sql_targets() -> list[tuple[str, dict]]:
    return [(f"{path.name}: {panel['title']} {target['refId']}", target)
            for path in DASHBOARDS for panel, target in _targets(json.loads(path.read_text()))
            if target.get("datasource", panel["datasource"])["uid"] == "phoenix-postgres"]


def test_dashboards_query_the_timeline_and_hot_tasks():
    targets = _sql_targets()
    federation_sql = " ".join(t["rawSql"] for where, t in targets if where.startswith("federation.json"))
    assert "phoenix.consciousness_timeline" in federation_sql and "phoenix.consciousness_hourly" in federation_sql
    assert [where for where, t in targets if t["rawSql"] == HOT_TASKS_SQL] == ["board.json: Hot tasks A"]
    for where, target in targets:
        relations = set(re.findall(r"\bphoenix\.\w+", target["rawSql"]))
        assert relations and relations <= SQL_RELATIONS, f"{where}: {relations}"


def _grafana_sql_to_postgres(query: str) -> str:
    """The SQL Grafana sends for a panel: its macros expanded as Grafana's PostgreSQL data source
    does with the provisioned `timescaledb` flag (time_bucket() when it is true), over a 6-hour
    range with a 1-minute interval."""
    timescaledb = _provisioned_datasources()["phoenix-postgres"]["timescaledb"] == "true"
    group = (r"time_bucket('60s', \1) AS \"time\"" if timescaledb
             else r"floor(extract(epoch from \1)/60)*60 AS \"time\"")
    query = re.sub(r"\$__timeGroupAlias\((\w+),\s*\$__interval\)", group, query)
    query = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 BETWEEN now() - INTERVAL '6 hours' AND now()", query)
    query = query.replace("$__interval_ms", "60000").replace("$__interval", "'1m'")
    return query.replace("$team", "'alpha_delta','iota'")


def test_dashboard_sql_runs_against_the_migrated_schema(sql):
    """Every PostgreSQL panel's query, macros expanded, on a migrated board with timeline rows, as
    the monitor role Grafana's login is a member of."""
    for team, consciousness in (("global", 104.0), ("alpha_delta", 103.0), ("iota", 101.5)):
        sql.execute(
            "INSERT INTO phoenix.consciousness_timeline (time, team, global_consciousness, global_trust,"
            " team_consciousness, team_coherence, avg_dopamine, avg_oxytocin, avg_adrenaline, avg_cortisol,"
            " active_agents, tasks_per_hour, decisions_per_second, entanglement_pairs)"
            " VALUES (now() - INTERVAL '5 minutes', %s, 104.0, 0.6, %s, 0.8, 1.0, 1.0, 1.0, 0.3, 4, 12, 0.5, 0)",
            (team, None if team == "global" else consciousness))
    matview = sql.execute("SELECT ispopulated FROM pg_matviews WHERE schemaname = 'phoenix'"
                          " AND matviewname = 'consciousness_hourly'").fetchone()
    if matview is not None:  # plain PostgreSQL; on TimescaleDB it is a continuous aggregate
        sql.execute("REFRESH MATERIALIZED VIEW phoenix.consciousness_hourly")
    sql.execute("SET ROLE phoenix_monitor")
    for where, target in _sql_targets():
        rows = sql.execute(_grafana_sql_to_postgres(target["rawSql"])).fetchall()
        if target["format"] == "time_series":
            assert rows, f"{where}: no rows"
            assert list(rows[0])[0] == "time", f"{where}: the first column must be time"
            values = [v for k, v in rows[0].items() if k not in ("time", "metric")]
            assert values and all(v is None or isinstance(v, (int, float)) or hasattr(v, "as_integer_ratio")
                                  for v in values), f"{where}: {rows[0]}"


# ------------------------------------------------------------------------------- Alertmanager

def test_alertmanager_config_is_valid_and_routes_by_severity():
    amtool = tool("amtool", "prometheus-alertmanager")
    result = run([amtool, "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, output(result)
    for severity, receiver in (("critical", "critical"), ("warning", "warning"), ("info", "default")):
        result = run([amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
                      f"severity={severity}", "alertname=NoActiveAgents", "team=iota"])
        assert result.stdout.split() == [receiver], output(result)


def test_alertmanager_receivers_hold_no_secrets():
    live = [line for line in ALERTMANAGER_CONFIG.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not any(re.search(r"(url|password|token|key)\s*:", line, flags=re.I) for line in live), \
        "out of the box no receiver delivers anywhere; credentials never go in this file"
    assert "- receiver: critical" in "\n".join(live) and "- receiver: warning" in "\n".join(live)


# -------------------------------------------------------------------- Dockerfile and compose

def test_dockerfile_installs_every_package_directory_as_a_non_root_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", dockerfile, flags=re.M)
    assert re.search(r"pip install \.", dockerfile)
    assert re.search(r'^ENTRYPOINT \["phoenix-board"\]\s*$', dockerfile, flags=re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M))
    # a folder copied whole brings its sub-packages (api/schema with api)
    needed = {d.split("/")[0] for d in pyproject["tool"]["setuptools"]["package-dir"].values()} | {"pyproject.toml"}
    assert needed <= copied, f"the image misses {sorted(needed - copied)}"


def _env_without_compose_variables() -> dict[str, str]:
    """This process' environment without the variables the env file sets, so it cannot mask them."""
    names = set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.M))
    return {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("COMPOSE_", "DOCKER_"))}


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    compose = tool("docker-compose", "docker-compose")
    return run([compose, "-f", str(COMPOSE), "--env-file", str(env_file), "config"], env=_env_without_compose_variables())


def _services(config: str) -> dict[str, str]:
    """Each service's block of `docker-compose config`'s YAML."""
    body = re.search(r"^services:\n((?:(?:  .*)?\n)*)", config, flags=re.M).group(1)
    return {m.group(1): m.group(2) for m in re.finditer(r"^  ([\w.-]+):\n((?:(?:    .*)?\n)*)", body, flags=re.M)}


@pytest.fixture(scope="module")
def compose_services() -> dict[str, str]:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, output(result)
    return _services(result.stdout)


def test_compose_config_passes_with_the_example_env_file(compose_services):
    assert set(compose_services) == APP_SERVICES | {"db", "redis", "prometheus", "alertmanager", "grafana"}


def test_compose_app_services_share_one_image_and_settings(compose_services):
    builders = [name for name, block in compose_services.items() if re.search(r"^    build:", block, flags=re.M)]
    assert builders == ["migrate"], "one service builds the image (parallel builds of one tag collide)"
    for name in APP_SERVICES:
        block = compose_services[name]
        assert "image: phoenix-board:local" in block, name
        assert re.search(r"PHOENIX_DATABASE_URL: postgresql://phoenix:[^@\s]+@db:5432/phoenix", block), name
        if name != "migrate":
            assert "PHOENIX_REDIS_URL: redis://redis:6379/0" in block, name
            assert re.search(r"PHOENIX_AUTO_MIGRATE: ['\"]?false", block), name
            assert re.search(r"PHOENIX_TASK_EVENTS: ['\"]?true", block), name  # celery events, Flower
            assert re.search(r"migrate:\n\s+condition: service_completed_successfully", block), name
            assert re.search(r"redis:\n\s+condition: service_healthy", block), name
    assert re.search(r"db:\n\s+condition: service_healthy", compose_services["migrate"])
    assert "PHOENIX_PROMETHEUS_URL: http://prometheus:9090" in compose_services["beat"]
    assert not any("ALERTMANAGER_URL" in block for block in compose_services.values()), \
        "only Prometheus sends alerts to Alertmanager (one definition of every alert)"


def test_compose_worker_services_are_scalable_per_team(compose_services):
    for service, team in WORKER_TEAMS.items():
        block = compose_services[service]
        assert "container_name" not in block, f"{service} cannot be scaled with a container_name"
        assert re.search(rf"command:\n\s+- workers\n\s+- --team\n\s+- {team}\n\s+- --agents\n\s+- '4'", block), block


def test_compose_monitoring_services_mount_the_repository_configuration(compose_services):
    prometheus = compose_services["prometheus"]
    assert f"{PROMETHEUS_DIR}:/etc/prometheus:ro" in prometheus
    assert f"{PROMETHEUS_DIR / 'compose-targets'}:/etc/prometheus/targets:ro" in prometheus
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus
    assert "--enable-feature=expand-external-labels" in prometheus
    assert "--web.external-url=http://localhost:9090" in prometheus
    assert re.search(r"PHOENIX_RUNBOOK_BASE_URL: https://\S+[^/\s]$", prometheus, flags=re.M)  # the docs' root
    assert f"{ALERTMANAGER_CONFIG.parent}:/etc/alertmanager:ro" in compose_services["alertmanager"]
    grafana = compose_services["grafana"]
    assert f"{GRAFANA / 'provisioning'}:/etc/grafana/provisioning:ro" in grafana
    assert f"{GRAFANA / 'dashboards'}:{GRAFANA_DASHBOARD_PATH}:ro" in grafana
    for variable in ("GF_SECURITY_ADMIN_PASSWORD", "PHOENIX_MONITOR_USER", "PHOENIX_MONITOR_PASSWORD"):
        assert re.search(rf"^      {variable}: \S", grafana, flags=re.M), variable
    assert "9464" in compose_services["metrics"]
    assert "command:\n    - metrics\n    - --port\n    - '9464'" in compose_services["metrics"]


def test_compose_config_fails_clearly_without_an_env_file(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty)
    assert result.returncode != 0
    assert re.search(r"set [A-Z_]+ in \.env", result.stderr + result.stdout), output(result)


@pytest.mark.parametrize("variable", REQUIRED_SECRETS)
def test_compose_config_names_each_missing_secret(tmp_path, variable):
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines() if not line.startswith(f"{variable}=")]
    assert len(lines) < len(ENV_EXAMPLE.read_text().splitlines()), f".env.example lacks {variable}"
    env_file = tmp_path / "partial.env"
    env_file.write_text("\n".join(lines) + "\n")
    result = compose_config(env_file)
    assert result.returncode != 0, f"compose accepted an env file without {variable}"
    assert f"set {variable} in .env" in result.stderr + result.stdout, output(result)


def test_env_example_holds_placeholders_only_and_env_is_ignored():
    text = ENV_EXAMPLE.read_text()
    assert "cp .env.example .env" in text
    for name, value in re.findall(r"^([A-Z_]*PASSWORD[A-Z_]*)=(.*)$", text, flags=re.M):
        assert value.startswith("change-me"), f"{name} in .env.example must be a change-me placeholder"
    assert ".env" in (REPO / ".gitignore").read_text().split()
