"""/metrics served from a real board: names, values, labels, and promtool's lint."""

from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from phoenix_board.board import lifecycle, retention
from phoenix_board.board.models import TaskStatus
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import definitions, exporter
from phoenix_board.scheduler import jobs
from tests.conftest import free_port, make_agent, make_task

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)


@pytest.fixture
def scrape(db):
    port = free_port()
    server, _ = exporter.serve(db, Settings(redis_url=None), port, "127.0.0.1")
    try:
        yield lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_board_figures_on_metrics(db, scrape):
    agent = make_agent(db, team="iota")
    for _ in range(3):
        make_task(db, team="iota")
    t = lifecycle.claim(db, agent.id)
    lifecycle.result(db, t.id, agent.id, t.attempt)
    jobs.run(db, "snapshot", lambda: jobs.snapshot(db))
    text = scrape()
    got = samples(text)
    assert got[("phoenix_tasks", (("status", "open"), ("team", "iota")))] == 2
    assert got[("phoenix_tasks", (("status", "complete"), ("team", "iota")))] == 1
    assert got[("phoenix_tasks_created_total", (("team", "iota"),))] == 3
    assert got[("phoenix_tasks_completed_total", (("team", "iota"),))] == 1
    assert got[("phoenix_claims_total", (("team", "iota"),))] == 1
    assert got[("phoenix_agents_active", (("team", "iota"),))] == 1
    assert got[("phoenix_agent_trust_gcount", (("team", "iota"),))] == 1
    assert ("phoenix_consciousness_current", (("team", "global"),)) in got
    assert got[("phoenix_db_connections_active", ())] >= 1
    assert ("phoenix_beat_job_last_success_timestamp_seconds", (("beat_job", "snapshot"),)) in got
    assert got[("phoenix_db_server_connections", ())] >= got[("phoenix_db_connections_active", ())]
    assert got[("phoenix_exporter_database_up", ())] == 1
    # bounded labels: no task or agent ids anywhere
    assert str(t.id) not in text and str(agent.id) not in text


def test_oldest_claimable_and_members_left_out_of_the_agent_gauges(db, scrape):
    """phoenix_task_oldest_claimable_seconds (TaskQueueLagging) per team, 0 when nothing waits; a
    member (a person) is no registered or active agent."""
    from datetime import UTC, datetime, timedelta

    from phoenix_board.board import members

    make_task(db, team="iota", now=datetime.now(UTC) - timedelta(minutes=20))
    make_agent(db, team="iota")
    members.add(db, "ada", "iota")
    got = samples(scrape())
    assert got[("phoenix_task_oldest_claimable_seconds", (("team", "iota"),))] >= 1190
    assert got[("phoenix_task_oldest_claimable_seconds", (("team", "alpha_delta"),))] == 0
    assert got[("phoenix_agents_registered", (("team", "iota"),))] == 1
    assert got[("phoenix_agents_active", (("team", "iota"),))] == 1


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (.ci/run installs Debian's prometheus)")
def test_promtool_accepts_the_metrics(db, scrape):
    make_agent(db)
    make_task(db)
    proc = subprocess.run(["promtool", "check", "metrics"], input=scrape(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_status_of_the_enum_is_served_and_unfinished_follows_it(db, sql, scrape):
    """phoenix_tasks{status} and phoenix_tasks_unfinished come from the status enum: a waiting
    (delegated) task counts as unfinished, a cancelled one is served and does not."""
    database_enum = sql.execute("SELECT enum_range(NULL::phoenix.task_status)::text[] AS v").fetchone()["v"]
    assert sorted(database_enum) == sorted(s.value for s in TaskStatus)
    tasks = [make_task(db, team="iota") for _ in range(4)]
    sql.execute("UPDATE phoenix.tasks SET status = 'waiting' WHERE id = %s", (tasks[0].id,))
    sql.execute("UPDATE phoenix.tasks SET status = 'cancelled' WHERE id = %s", (tasks[1].id,))
    got = samples(scrape())
    served = {dict(labels)["status"] for name, labels in got if name == "phoenix_tasks" and dict(labels)["team"] == "iota"}
    assert served == {s.value for s in TaskStatus}
    assert got[("phoenix_tasks", (("status", "waiting"), ("team", "iota")))] == 1
    assert got[("phoenix_tasks", (("status", "cancelled"), ("team", "iota")))] == 1
    assert got[("phoenix_tasks_unfinished", (("team", "iota"),))] == 3  # 2 open + 1 waiting


def _figures(rows: list[dict]) -> dict:
    return {r["team"]: ({k: v for k, v in (r["by_status"] or {}).items() if v}, r["created"], r["completed"],
                        r["failed"], r["claims"], r["lease_expiries"]) for r in rows}


@pytest.mark.rolled_back
def test_retention_takes_tasks_off_the_board_but_never_takes_the_counters_down(db, sql):
    """A counter that goes down is a restart to Prometheus: after a prune, increase() would count the
    whole total again. Pruned tasks leave the status gauges and stay in the counters: through the
    fold and a full recount too."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    agent = make_agent(db, team="iota", now=t0)
    for i in range(3):
        make_task(db, team="iota", now=t0 + timedelta(seconds=i))
        t = lifecycle.claim_start(db, agent.id, now=t0 + timedelta(seconds=i))
        lifecycle.result(db, t.id, agent.id, t.attempt, {}, 0.9, now=t0 + timedelta(seconds=i + 0.5))
    make_task(db, team="iota", now=t0 + timedelta(seconds=10), max_attempts=1)
    t = lifecycle.claim_start(db, agent.id, now=t0 + timedelta(seconds=11))
    lifecycle.fail(db, t.id, agent.id, t.attempt, "no", now=t0 + timedelta(seconds=12))
    make_task(db, team="iota", now=t0 + timedelta(seconds=20))  # live: stays

    def iota() -> tuple:
        row = {r["team"]: r for r in db.all("metrics_board")}["iota"]
        return row["created"], row["completed"], row["failed"], row["claims"], row["by_status"]

    before = iota()
    assert before[:4] == (5, 3, 1, 4)
    now = t0 + timedelta(days=45)
    jobs.hormone_cascades(db, now)  # what the beat spreads first (a task whose cascade waits is kept)
    assert retention.prune(db, retention.cutoff(30, now), now=now).tasks == 4
    for step in ("pruned", "folded", "recounted"):
        if step == "folded":
            db.one("task_counts_fold")
        if step == "recounted":
            sql.execute("SELECT phoenix.task_counts_rebuild()")
        created, completed, failed, claims, by_status = iota()
        assert (created, completed, failed, claims) == before[:4], step
        assert {k: v for k, v in by_status.items() if v} == {"open": 1}, step


def test_kept_task_counts_agree_with_counting_every_row(db, sql):
    """The exporter reads phoenix.task_counts plus unfolded deltas (a scrape's cost does not grow with
    the board); through submissions, claims, results, failures, expired leases, concurrent claims,
    status and team changes by hand, it says what counting every row says, folded or not."""
    now = datetime.now(UTC)
    agents = [make_agent(db, team="iota") for _ in range(4)]
    tasks = [make_task(db, team="iota") for _ in range(12)] + [make_task(db, team="alpha_delta") for _ in range(3)]
    t = lifecycle.claim(db, agents[0].id)
    lifecycle.result(db, t.id, agents[0].id, t.attempt)
    t = lifecycle.claim(db, agents[1].id)
    lifecycle.fail(db, t.id, agents[1].id, t.attempt, "boom")
    assert lifecycle.claim(db, agents[2].id, lease_seconds=1)
    assert lifecycle.release_expired(db, now=now + timedelta(minutes=5))  # a lease_expired event
    assert _figures(db.all("metrics_board")) == _figures(db.all("metrics_board_counted"))
    assert db.one("task_counts_fold")["folded"] > 0
    assert _figures(db.all("metrics_board")) == _figures(db.all("metrics_board_counted"))

    def claim_and_finish(agent):  # real threads claiming at once: deltas are appends, none is lost
        for _ in range(2):
            task = lifecycle.claim(db, agent.id)
            if task:
                lifecycle.result(db, task.id, agent.id, task.attempt)

    threads = [threading.Thread(target=claim_and_finish, args=(a,)) for a in agents]
    for th in threads:
        th.start()
    folder = threading.Thread(target=lambda: [db.one("task_counts_fold") for _ in range(5)])
    folder.start()
    for th in [*threads, folder]:
        th.join()
    sql.execute("UPDATE phoenix.tasks SET status = 'cancelled' WHERE id = %s", (tasks[-1].id,))
    sql.execute("UPDATE phoenix.tasks SET status = 'waiting', team = 'epsilon_zeta' WHERE id = ANY(%s)",
                ([tasks[-2].id, tasks[-3].id],))
    assert _figures(db.all("metrics_board")) == _figures(db.all("metrics_board_counted"))
    db.one("task_counts_fold")
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_count_deltas").fetchone()["n"] == 0
    assert _figures(db.all("metrics_board")) == _figures(db.all("metrics_board_counted"))
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_counts").fetchone()["n"] <= 2 * len(TaskStatus)


def test_distributions_aggregated_in_sql_put_each_value_in_its_bucket(db, sql, scrape):
    """Trust and hormone histograms are counted by the database (a scrape fetches a few rows, not
    every agent's): a value on a bound is in that bound's bucket, one above the last only in +Inf."""
    trusts = [0.0, 0.1, 0.15, 0.5, 1.0]
    dopamine = [0.25, 0.3, 5.0, 6.0, 1.0]
    for trust, level in zip(trusts, dopamine):
        agent = make_agent(db, team="iota")
        sql.execute("UPDATE phoenix.agents SET trust_coefficient = %s,"
                    " hormone_levels = jsonb_set(hormone_levels, '{dopamine}', to_jsonb(%s::float8)) WHERE id = %s",
                    (trust, level, agent.id))
    got = samples(scrape())

    def bucket(name, labels, le):
        return got[(name, tuple(sorted({**labels, "le": le}.items())))]

    for le in ("0.1", "0.2", "0.5", "0.9", "1.0", "+Inf"):
        bound = float("inf") if le == "+Inf" else float(le)
        assert bucket("phoenix_agent_trust_bucket", {"team": "iota"}, le) == sum(t <= bound for t in trusts), le
    for le in ("0.25", "0.5", "1.0", "4.0", "5.0", "+Inf"):
        bound = float("inf") if le == "+Inf" else float(le)
        assert bucket("phoenix_agent_hormone_level_bucket", {"team": "iota", "hormone": "dopamine"}, le) \
            == sum(v <= bound for v in dopamine), le
    assert got[("phoenix_agent_hormone_level_gsum", (("hormone", "dopamine"), ("team", "iota")))] == pytest.approx(sum(dopamine))
    assert got[("phoenix_agent_trust_gcount", (("team", "iota"),))] == len(trusts)


def test_the_exporter_serves_exactly_the_metrics_definitions_lists(db, scrape):
    """metrics/definitions.py is the one list of metrics: a scrape serves every metric it gives the
    exporter (those of a replica and a broker aside: this scrape has neither) and nothing else."""
    make_agent(db)
    defined = {d.name: d for d in definitions.METRICS}
    # the text format's parser reads a gauge histogram's _gsum and _gcount lines as families of their own
    served = {family.name for family in text_string_to_metric_families(scrape())
              if family.name.removesuffix("_gsum").removesuffix("_gcount") == family.name
              or family.name.rsplit("_", 1)[0] not in defined}
    assert served <= set(defined), sorted(served - set(defined))
    absent_here = {definitions.DB_REPLICA_LAG_SECONDS.name, definitions.DB_REPLICA_LAG_BYTES.name,
                   definitions.QUEUE_MESSAGES.name}
    assert {n for n, d in defined.items() if d.by == "exporter"} - absent_here <= served


def test_schedule_figures_on_metrics(db, scrape):
    """A schedule the beat fired late: its lag, its last fire and the slots its catch-up skipped."""
    from phoenix_board.board import schedules

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10, seconds=-30)
    schedules.add(db, "minutely", "* * * * *", {"title": "t", "team": "iota"}, now=start)
    schedules.tick(db, start + timedelta(minutes=5))  # 5 slots due; the one 30 s late fires, 4 are missed
    got = samples(scrape())
    label = (("schedule", "minutely"),)
    assert got[("phoenix_schedule_lag_seconds", label)] > 60  # its next slot (start + 5.5 min) is past
    assert got[("phoenix_schedule_last_fire_timestamp_seconds", label)] == (start + timedelta(minutes=5)).timestamp()
    assert got[("phoenix_schedule_slots_missed_total", label)] == 4
