"""The many-host recipe (docs/operations/many-hosts.md), run word for word on six "hosts" (issue 11.7).

Each host is a network namespace on a bridge of its own (in a seventh namespace, so the machine's
own network is untouched): db (a PostgreSQL cluster made for the test with initdb), broker
(redis-server bound to its address), two worker hosts, beat and client. The page's blocks marked
``<!-- many-hosts: … -->`` run on their hosts with only $DB, $BROKER and the passwords set. Work
goes through the queue; every process of one worker host is SIGKILLed mid-run; then, from the
database: every task completes exactly once, the dead host's claims come back within twice the
lease, and its agents show as dead. Needs root and iproute2 (CI has both); where namespaces
cannot be made the test fails and says why. Every name carries a random prefix; everything is
removed even when the test fails."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import constants
from tests.conftest import wait_for

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "operations" / "many-hosts.md"
HOSTS = ("db", "broker", "w1", "w2", "beat", "client")
SUBNET = "10.77.0"  # private to this test's namespaces: no route leads out of them
LEASE = 10.0  # PHOENIX_LEASE_SECONDS in the recipe
TASKS = 30  # --count in the recipe


def recipe() -> dict[str, str]:
    """The recipe's many-host blocks by host kind."""
    blocks = dict(re.findall(r"<!-- many-hosts: (\w+) -->\n```bash\n(.*?)```", RECIPE.read_text(), re.DOTALL))
    assert set(blocks) == {"db", "client", "worker", "beat", "submit"}, f"many-host blocks: {sorted(blocks)}"
    return blocks


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if not initdb:
        pytest.fail("PostgreSQL's initdb is not installed (postgresql-15 on Debian); this test makes its own cluster")
    return Path(initdb).parent


class Network:
    """Six namespaces on one bridge, which lives in a namespace of its own."""

    def __init__(self) -> None:
        self.prefix = f"pbh{uuid.uuid4().hex[:6]}"
        self.made: list[str] = []

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def ip(self, host: str) -> str:
        return f"{SUBNET}.{HOSTS.index(host) + 1}"

    def up(self) -> None:
        if os.geteuid() != 0:
            pytest.fail("network namespaces need root (CI runs as root); run this test as root")
        if not shutil.which("ip"):
            pytest.fail("`ip` (iproute2) is not installed; .ci/run installs it")
        switch = self.ns("sw")
        try:
            run("ip", "netns", "add", switch)
        except subprocess.CalledProcessError as exc:
            pytest.fail(f"cannot make a network namespace on this machine: {exc.stderr.strip()}")
        self.made.append(switch)
        run("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", switch, "link", "set", "br0", "up")
        for i, host in enumerate(HOSTS, 1):
            name = self.ns(host)
            run("ip", "netns", "add", name)
            self.made.append(name)
            run("ip", "link", "add", "eth0", "netns", name, "type", "veth", "peer", "name", f"port{i}", "netns", switch)
            run("ip", "-n", switch, "link", "set", f"port{i}", "master", "br0")
            run("ip", "-n", switch, "link", "set", f"port{i}", "up")
            run("ip", "-n", name, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            run("ip", "-n", name, "link", "set", "eth0", "up")
            run("ip", "-n", name, "link", "set", "lo", "up")

    def pids(self, host: str) -> list[int]:
        out = run("ip", "netns", "pids", self.ns(host), check=False).stdout
        return [int(p) for p in out.split()]

    def kill_all(self, host: str) -> int:
        pids = self.pids(host)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def down(self) -> None:
        for name in reversed(self.made):
            host = name[len(self.prefix) + 1:]
            if host in HOSTS:
                self.kill_all(host)
        time.sleep(0.2)
        for name in reversed(self.made):
            run("ip", "netns", "del", name, check=False)


@pytest.fixture
def net() -> Network:
    network = Network()
    try:
        network.up()
        yield network
    finally:
        network.down()


@pytest.fixture
def workdir() -> Path:
    # under /tmp, not pytest's 0700 tree: the postgres user must reach its data directory
    path = Path(tempfile.mkdtemp(prefix="pbh-hosts-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Hosts:
    def __init__(self, net: Network, workdir: Path) -> None:
        self.net, self.dir = net, workdir
        self.passwords = {k: uuid.uuid4().hex for k in ("ADMIN_PASSWORD", "WORKER_PASSWORD", "METRICS_PASSWORD")}
        self.socket_dir = workdir / "pgsock"
        self.procs: list[subprocess.Popen] = []

    def env(self, host: str, **extra: str) -> dict[str, str]:
        home = self.dir / host
        home.mkdir(exist_ok=True)
        path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"])
        return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "DB": self.net.ip("db"),
                "BROKER": self.net.ip("broker"), **self.passwords, **extra}

    def run_block(self, host: str, block: str, **extra: str) -> None:
        proc = subprocess.run(["ip", "netns", "exec", self.net.ns(host), "bash", "-euo", "pipefail", "-c", block],
                              env=self.env(host, **extra), cwd=self.dir / host if (self.dir / host).exists() else self.dir,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{host}: {block}\n{proc.stdout}\n{proc.stderr}"

    def start_block(self, host: str, block: str) -> Path:
        env = self.env(host)
        log = self.dir / f"{host}.log"
        with open(log, "ab") as out:
            self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.net.ns(host), "bash", "-euo", "pipefail", "-c", block],
                                               env=env, cwd=env["HOME"], stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True))
        return log

    def start_servers(self) -> None:
        bindir = pg_bin()
        pg = pwd.getpwnam("postgres")
        data = self.dir / "pgdata"
        for path in (self.socket_dir, data):
            path.mkdir(mode=0o700)
            os.chown(path, pg.pw_uid, pg.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
        init = run(*as_pg, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                   "--auth-host=scram-sha-256", "-E", "UTF8", check=False)
        assert init.returncode == 0, init.stderr
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {SUBNET}.0/24 scram-sha-256\n")
        start = run("ip", "netns", "exec", self.net.ns("db"), *as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-w",
                    "-l", str(self.socket_dir / "postgres.log"), "-o",
                    f"-c listen_addresses={self.net.ip('db')} -c port=5432 -c unix_socket_directories={self.socket_dir}",
                    "start", check=False)
        pg_log = self.socket_dir / "postgres.log"
        assert start.returncode == 0, start.stdout + start.stderr + (pg_log.read_text() if pg_log.exists() else "")
        redis_dir = self.dir / "broker-data"
        redis_dir.mkdir()
        log = open(self.dir / "broker.log", "ab")  # noqa: SIM115 - the server's
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.net.ns("broker"), shutil.which("redis-server") or "redis-server",
             "--bind", self.net.ip("broker"), "--port", "6379", "--save", "", "--appendonly", "no",
             "--dir", str(redis_dir), "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def sql(self) -> psycopg.Connection:
        """The test's own eye on the board: the cluster's superuser over its Unix socket."""
        return psycopg.connect(host=str(self.socket_dir), user="postgres", dbname="phoenix", autocommit=True,
                               row_factory=dict_row)

    def reap(self) -> None:
        for proc in self.procs:
            proc.poll()

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def live_agents(sql: psycopg.Connection, pattern: str) -> list[dict]:
    return sql.execute("SELECT id, codename, current_task FROM phoenix.agents WHERE codename LIKE %s "
                       "AND last_heartbeat > now() - interval '5 seconds' ORDER BY codename", (pattern,)).fetchall()


@pytest.mark.slow
def test_the_many_host_recipe_survives_a_worker_host_killed_mid_run(net, workdir):
    blocks = recipe()
    hosts = Hosts(net, workdir)
    try:
        hosts.start_servers()
        hosts.run_block("db", blocks["db"], PGHOST=str(hosts.socket_dir), PGUSER="postgres")
        hosts.run_block("client", blocks["client"])
        with hosts.sql() as sql:
            me = socket.gethostname()  # namespaces share the hostname: two hosts with the same name
            w1_log = hosts.start_block("w1", blocks["worker"])
            w1 = wait_for(lambda: len(rows := live_agents(sql, f"iota.{me}-%")) == 2 and rows, timeout=120,
                          what=f"host w1's agents ({w1_log})")
            w2_log = hosts.start_block("w2", blocks["worker"])
            wait_for(lambda: len(live_agents(sql, f"iota.{me}.2-%")) == 2, timeout=120,
                     what=f"host w2's agents under another prefix ({w2_log})")
            hosts.start_block("beat", blocks["beat"])
            hosts.run_block("client", blocks["submit"])
            w1_ids = [a["id"] for a in w1]

            def w1_working() -> list[dict]:
                done = sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"]
                held = sql.execute("SELECT id, assigned_to FROM phoenix.tasks WHERE assigned_to = ANY (%s) "
                                   "AND status IN ('claimed', 'in_progress')", (w1_ids,)).fetchall()
                return held if done >= 2 and held else []

            wait_for(w1_working, timeout=120, what="host w1 working with tasks completed")
            assert net.kill_all("w1") > 0
            killed_at = sql.execute("SELECT now() AS t").fetchone()["t"]
            held = sql.execute("SELECT id FROM phoenix.tasks WHERE assigned_to = ANY (%s) "
                               "AND status IN ('claimed', 'in_progress')", (w1_ids,)).fetchall()
            hosts.reap()  # the host's first process is the test's child: a zombie until waited for
            wait_for(lambda: net.pids("w1") == [], timeout=10, what="every process of host w1 gone")

            wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'")
                     .fetchone()["n"] == TASKS, timeout=150, what=f"all {TASKS} tasks complete")
            # every task completed exactly once
            rows = sql.execute("SELECT t.id, t.status, (SELECT count(*) FROM phoenix.task_events e WHERE e.task_id = t.id "
                               "AND e.kind = 'completed') AS completions FROM phoenix.tasks t").fetchall()
            assert len(rows) == TASKS
            assert {(r["status"], r["completions"]) for r in rows} == {("complete", 1)}
            # the dead host's claims came back within twice the lease
            delays = []
            for task in held:
                back = sql.execute("SELECT min(at) AS at FROM phoenix.task_events WHERE task_id = %s AND at >= %s "
                                   "AND kind IN ('lease_expired', 'released', 'failed')",
                                   (task["id"], killed_at)).fetchone()["at"]
                assert back is not None, f"task {task['id']} held by the dead host never came back"
                delays.append(round((back - killed_at).total_seconds(), 1))
                assert delays[-1] <= 2 * LEASE
            print(f"host w1 killed holding {len(held)} claim(s); back after {sorted(delays)} s (lease {LEASE:g} s)")
            # and its agents show as dead (no heartbeat within the liveness window), the others live
            window = constants.ACTIVE_AGENT_SECONDS
            wait_for(lambda: sql.execute("SELECT bool_and(last_heartbeat < now() - make_interval(secs => %s)) AS dead "
                                         "FROM phoenix.agents WHERE id = ANY (%s)", (window, w1_ids)).fetchone()["dead"],
                     timeout=window + 30, what="the dead host's agents to show as dead")
            assert len(live_agents(sql, f"iota.{me}.2-%")) == 2
            for log in (w1_log, w2_log):
                assert "permission denied" not in log.read_text()
    finally:
        hosts.stop()
