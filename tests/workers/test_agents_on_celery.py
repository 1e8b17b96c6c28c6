"""Agents on Celery, with real worker processes, a real broker and real PostgreSQL."""

from __future__ import annotations

import signal
import uuid

import pytest
import redis

from phoenix_board.board import agents, lifecycle
from tests.conftest import snapshot, wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def completed_counts(sql) -> dict:
    rows = sql.execute("SELECT task_id, count(*) AS n FROM phoenix.task_events WHERE kind = 'completed' GROUP BY task_id").fetchall()
    return {r["task_id"]: r["n"] for r in rows}


def count(sql, query: str, *args) -> int:
    return sql.execute(query, args).fetchone()["n"]


def test_pool_processes_register_as_agents_and_reattach(pools, db, sql, env):
    proc = pools.start("iota", agents=2, name="reg")
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'reg-%%'") == 2,
             what="two agents")
    # and the worker's main in its consumer loop (it blocks on BRPOP there): a pool process that
    # dies before the main checked its pool at start-up makes Celery exit, replacing nothing
    broker = redis.Redis.from_url(env["PHOENIX_REDIS_URL"])
    wait_for(lambda: any(c.get("cmd") == "brpop" for c in broker.client_list()), what="the consumer loop")
    names = sorted(a.codename for a in agents.list_agents(db, team="iota"))
    assert names == ["reg-0", "reg-1"]  # pool indexes
    # a pool process that Celery replaces keeps its identity
    victim = pools.children(proc)[0]
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: len(pools.children(proc)) == 2 and victim.pid not in [c.pid for c in pools.children(proc)],
             what="a replacement process")
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE last_heartbeat > now() - interval '2 seconds'") == 2,
             what="heartbeats")
    assert count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 2


def test_500_tasks_through_the_queue_complete_exactly_once(pools, client, sql):
    pools.start("alpha_delta", agents=3)
    pools.start("alpha_delta", agents=3)
    keys = [client.submit({"title": f"t{i}", "team": "alpha_delta", "category": "noop"}) for i in range(500)]
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == 500,
             timeout=180, what="500 completions")
    done = completed_counts(sql)
    assert len(done) == 500 and set(done.values()) == {1}
    assert count(sql, "SELECT count(DISTINCT idempotency_key) AS n FROM phoenix.tasks") == 500
    assert {r["idempotency_key"] for r in sql.execute("SELECT idempotency_key FROM phoenix.tasks")} == set(keys)
    per_agent = sql.execute("SELECT sum(tasks_completed) AS n FROM phoenix.agents").fetchone()["n"]
    assert per_agent == 500


def test_same_submission_twice_makes_one_task(pools, client, sql):
    pools.start("iota", agents=2)
    key = client.submit({"title": "once", "team": "iota", "category": "noop"}, idempotency_key="dup-1")
    client.submit({"title": "once", "team": "iota", "category": "noop"}, idempotency_key=key)
    client.submit({"title": "once", "team": "iota", "category": "noop"}, idempotency_key=key)
    wait_for(lambda: (t := client.status(key)) and t.status == "complete", what="completion")
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == 1
    assert count(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'") == 1


def test_killed_pool_process_task_completes_exactly_once(pools, client, db, sql):
    slow = pools.start("epsilon_zeta", agents=1, name="slow")
    pools.start("epsilon_zeta", agents=1, name="other")
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 2, what="agents")
    key = client.submit({"title": "long", "team": "epsilon_zeta", "category": "sleep", "payload": {"seconds": 4}})
    holder = wait_for(lambda: (t := client.status(key)) and t.assigned_to, what="a claim")
    holder_name = agents.get(db, holder).codename
    victim_pool = slow if holder_name.startswith("slow") else pools.procs[1]
    pools.children(victim_pool)[0].send_signal(signal.SIGKILL)
    wait_for(lambda: (t := client.status(key)) and t.status == "complete", timeout=90, what="completion")
    assert count(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'") == 1
    task = client.status(key)
    assert task.attempt >= 2
    kinds = [e["kind"] for e in lifecycle.events(db, task.id)]
    assert kinds[:3] == ["submitted", "claimed", "started"]
    assert kinds[3] in ("failed", "lease_expired") and kinds[-1] == "completed"


def test_redis_restart_loses_nothing_and_work_resumes(pools, client, valkey, sql):
    pools.start("iota", agents=2)
    keys = [client.submit({"title": f"a{i}", "team": "iota", "category": "sleep", "payload": {"seconds": 0.02}})
            for i in range(60)]
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == 60, what="submissions on the board")
    valkey.stop()  # wake-ups still queued and in flight are lost or redelivered; the board holds the work
    valkey.start()
    more = [client.submit({"title": f"b{i}", "team": "iota", "category": "noop"}) for i in range(20)]
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == 80,
             timeout=120, what="all 80 completions")
    assert set(completed_counts(sql).values()) == {1}
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == len(keys) + len(more)


BAD_MESSAGES = [
    ("phoenix.submit", {"title": 5, "team": "iota"}),                          # wrong type, no key
    ("phoenix.submit", {"team": "iota", "idempotency_key": "k"}),              # missing title
    ("phoenix.submit", {"title": "x", "team": "nowhere", "idempotency_key": "k2"}),  # unknown team
    ("phoenix.submit", {"title": "x", "team": "iota", "idempotency_key": "k3", "depends_on": [str(uuid.uuid4())]}),
    ("phoenix.vote", {"task": str(uuid.uuid4()), "agent": "ghost", "value": 1}),  # unknown agent
    ("phoenix.vote", {"task": "not-a-uuid", "agent": "x", "value": 1}),
    ("phoenix.vote", {"task": str(uuid.uuid4()), "agent": "x", "value": 7}),
    ("phoenix.comment", {"task": str(uuid.uuid4()), "agent": "x"}),             # missing content
    ("phoenix.wake", {"team": 3}),
    ("phoenix.review", {"task": str(uuid.uuid4()), "agent": str(uuid.uuid4())}),
    ("phoenix.assess", {}),
]


def test_bad_messages_are_rejected_and_write_nothing(pools, client, env, sql):
    proc = pools.start("iota", agents=2, name="judge")
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 2, what="agents")
    before = snapshot(sql)
    queue = f"{env['PHOENIX_QUEUE_PREFIX']}.board"
    for name, body in BAD_MESSAGES:
        client.app.send_task(name, kwargs={"body": body}, queue=queue)
    client.app.send_task("phoenix.submit", args=["positional", "junk"], queue=queue)
    wait_for(lambda: pools.log("judge").count("rejected ") >= len(BAD_MESSAGES), what="rejections logged")
    after = snapshot(sql)
    # heartbeats move agents' rows; nothing else may change
    assert {k: v for k, v in after.items() if k != "agents"} == {k: v for k, v in before.items() if k != "agents"}
    log = pools.log("judge")
    for line in (l for l in log.splitlines() if "rejected " in l and "message:" in l):
        assert len(line) < 500
    assert "Retry in" not in log
    assert proc.poll() is None


def test_unknown_category_and_raising_handler_fail_with_reason(pools, client, sql):
    pools.start("iota", agents=2)
    unknown = client.submit({"title": "?", "team": "iota", "category": "no_such_thing"})  # three attempts
    broken = client.submit({"title": "!", "team": "iota", "category": "sleep", "payload": {"seconds": -1},
                            "max_attempts": 2})
    wait_for(lambda: all((t := client.status(k)) and t.status == "failed" for k in (unknown, broken)),
             timeout=60, what="failures")
    assert "no handler for category 'no_such_thing'" in client.status(unknown).last_error
    assert "ValueError" in client.status(broken).last_error
    assert client.status(broken).attempt == 2
    # a missing handler is nobody's fault and no retry would help: one attempt, no agent blamed
    assert client.status(unknown).attempt == 1
    assert sql.execute("SELECT sum(tasks_failed) AS n FROM phoenix.agents").fetchone()["n"] == 2  # broken's two


def test_review_by_peers_decides(pools, client, sql):
    pools.start("alpha_delta", agents=3)
    key = client.submit({"title": "reviewed", "team": "alpha_delta", "category": "noop", "review_quorum": 2})
    # three pool processes start, the work runs, then two reviews: on a loaded machine (CI beside other
    # jobs) starting the pool alone has taken most of a minute
    wait_for(lambda: (t := client.status(key)) and t.status == "complete", timeout=180, what="approval")
    task = client.status(key)
    rows = sql.execute("SELECT agent_id FROM phoenix.task_reviews WHERE task_id = %s", (task.id,)).fetchall()
    assert len(rows) == 2 and task.assigned_to not in {r["agent_id"] for r in rows}
    # the submission with a quorum went through as an agent's message would: no refusal on the way
    # (it once read phoenix.agents as the agent role, and was rejected after its task had committed)
    assert "rejected" not in pools.log("alpha_delta-0")


def test_specialists_assess_new_tasks(pools, client, sql):
    pools.start("iota", agents=2, specialization=("development",))
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE last_heartbeat > now() - interval '5 seconds'") == 2,
             what="agents")
    key = client.submit({"title": "urgent fix", "team": "iota", "category": "development", "priority": 9,
                         "payload": {}})
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.task_votes") >= 1, what="a vote")
    task = wait_for(lambda: client.status(key), what="task")
    assert sql.execute("SELECT upvotes FROM phoenix.tasks WHERE id = %s", (task.id,)).fetchone()["upvotes"] >= 1


def test_idle_agents_find_work_nobody_woke_them_for(pools, db, sql):
    pools.start("iota", agents=1)
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 1, what="agent")
    task, _ = lifecycle.submit(db, {"title": "direct", "team": "iota", "category": "noop"})  # no wake-up sent
    wait_for(lambda: lifecycle.get(db, task.id).status == "complete", timeout=30, what="completion by polling")


def test_queue_vote_and_comment_say_the_board_applied_them(pools, env, db, tmp_path):
    """`queue vote` and `queue comment` wait for the worker and say what happened (issue 13,
    point 7): applied, or refused with where the refusal is logged."""
    import subprocess
    import sys

    from phoenix_board.board import agents, ids, lifecycle

    pools.start("iota", agents=1, name="judge")
    author, _ = agents.register(db, {"codename": "author-q", "team": "iota"})
    agents.register(db, {"codename": "voter-q", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "t", "team": "iota", "category": "noop", "created_by": author.id})

    def queue(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "queue", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)

    short = ids.short_one(task.id)
    voted = queue("vote", short, "-1", "--agent", "voter-q", "--wait", "60")
    assert voted.returncode == 0 and voted.stdout.startswith(f"applied: vote -1 on {short} by voter-q"), voted.stderr
    said = queue("comment", short, "on it", "--agent", "voter-q", "--wait", "60")
    assert said.returncode == 0 and said.stdout.startswith("applied: comment"), said.stderr
    # the worker refuses a vote on one's own task: the command says it was not applied, and where to look
    own = queue("vote", short, "up", "--agent", "author-q", "--wait", "5")
    assert own.returncode == 1 and "not applied within 5 s" in own.stderr and "rejected" in own.stderr
    assert len(own.stderr.strip().splitlines()) == 1
    # `queue submit` takes every field `submit` takes, from the flags or a task file (issue 14)
    spec = tmp_path / "task.json"
    spec.write_text('{"title": "from a file", "team": "iota", "category": "noop", "size": 5, "reward": 0.5}')
    sent = queue("submit", "--file", str(spec), "--description", "all the fields", "--priority", "7",
                 "--depends-on", short, "--deadline", "+2h", "--max-attempts", "2", "--created-by", "author-q",
                 "--key", "every-field")
    assert sent.returncode == 0 and sent.stdout.strip() == "every-field", sent.stderr
    wait_for(lambda: db.one("task_by_key", key="every-field"), timeout=30, what="the queued submission")
    made = lifecycle.get(db, db.one("task_by_key", key="every-field")["id"])
    assert (made.title, made.description, made.priority, made.fibonacci_size, made.dopamine_reward,
            made.max_attempts, made.created_by) == ("from a file", "all the fields", 7, 5, 0.5, 2, author.id)
    assert made.deadline is not None and [str(d) for d in made.depends_on] == [str(task.id)]
