-- Statements of `phoenix-board bench board` (board/bench.py). They run only in the benchmark's
-- scratch database `phoenix_bench_<random>`, never in a board's own database.
--
-- Seeding is set-based (INSERT ... SELECT generate_series) in chunks, so that a board of a million
-- tasks with its history is written in about a minute. Seeded rows respect every CHECK of
-- sql/migrations/0001_board.sql and the invariants the board's functions keep: a task's upvotes
-- and downvotes equal its rows in task_votes, hot and active ranks and claim keys come from the
-- board's own phoenix.hot_rank and phoenix.claim_key, nobody votes on a task they wrote or worked.
-- SQL modulo is mod(): a literal percent sign would be read as a parameter.

-- name: bench_database_create
-- The scratch database; its name is an identifier composed with psycopg.sql, since DDL takes no parameters.
CREATE DATABASE {database}

-- name: bench_database_drop
-- Drop the scratch database, disconnecting whatever still uses it (an interrupted run).
DROP DATABASE IF EXISTS {database} WITH (FORCE)

-- name: bench_server_info
-- What the figures were measured on.
SELECT current_setting('server_version') AS postgres_version,
       current_setting('shared_buffers') AS shared_buffers,
       current_setting('synchronous_commit') AS synchronous_commit;

-- name: bench_seed_random
-- Make random() in this session repeatable, so two runs seed the same shape of board.
SELECT setseed(%(seed)s::float8);

-- name: bench_seed_no_jit
-- No JIT for the seeding statements: compiling them costs seconds a chunk and saves nothing.
SELECT set_config('jit', 'off', false);

-- name: bench_seed_unchecked
-- Skip foreign-key triggers in this seeding session (superuser only); the rows are consistent by construction, CHECKs still apply.
SELECT set_config('session_replication_role', 'replica', false);

-- name: bench_seed_agents
-- Seed agents first..last as <prefix><7-digit index>; agent i is on team i mod (number of teams), teams in name order.
INSERT INTO phoenix.agents (codename, team, role, created_at, last_heartbeat, idle_since, hormones_at)
SELECT %(prefix)s::text || lpad(i::text, 7, '0'),
       k.teams[1 + mod(i, cardinality(k.teams))],
       'seeded',
       k.now - interval '400 days', k.now, k.now, k.now
  FROM (SELECT array_agg(name ORDER BY name) AS teams, coalesce(%(now)s::timestamptz, now()) AS now
          FROM phoenix.teams) AS k,
       generate_series(%(first)s::integer, %(last)s::integer) AS i;

-- name: bench_seed_tasks
-- Seed tasks first..last of total (oldest first) with their votes and events: the newest `recent` inside the 7-day window, the newest `open` open, the rest complete (one in fifty failed).
WITH k AS MATERIALIZED (
    SELECT (SELECT array_agg(name ORDER BY name) FROM phoenix.teams) AS teams,
           (SELECT array_agg(id ORDER BY codename) FROM phoenix.agents
             WHERE starts_with(codename, %(prefix)s::text)) AS agents,
           coalesce(%(now)s::timestamptz, now()) AS now,
           %(total)s::bigint AS total, %(open)s::bigint AS open, %(recent)s::bigint AS recent
), base0 AS MATERIALIZED (
    SELECT n, mod(n, cardinality(k.teams))::integer AS t,
           n > k.total - k.recent AS recent,
           n > k.total - k.open AS open,
           -- the window's tasks spread over its 7 days (age > 0, as hot_rank wants); older ones over
           -- the 358 days before it, an hour clear of the window's edge
           CASE WHEN n > k.total - k.recent
                THEN k.now - interval '7 days' * ((k.total - n + 0.5) / k.recent)::float8
                ELSE k.now - interval '7 days 1 hour'
                           - interval '358 days' * ((k.total - k.recent - n + 0.5) / (k.total - k.recent))::float8
           END AS created_at
      FROM k, generate_series(%(first)s::bigint, %(last)s::bigint) AS n
), base AS MATERIALIZED (
    -- ids ordered by creation time, as the board's own phoenix.uuid_v7() default makes them
    SELECT phoenix.uuid_v7(created_at) AS id, base0.* FROM base0
), src AS MATERIALIZED (
    SELECT b.*, p.ai, p.ei,
           CASE WHEN b.open THEN 'open' WHEN random() < 0.02 THEN 'failed' ELSE 'complete' END::phoenix.task_status AS status,
           -- votes per task: skewed (most tasks get none or one), more inside the window
           least(floor(power(random(), 3) * CASE WHEN b.recent THEN 13 ELSE 5 END)::integer, cardinality(k.agents) - 2) AS nv,
           (ARRAY[1, 2, 3, 4, 5, 5, 5, 5, 6, 7, 8, 9, 10])[1 + floor(random() * 13)::integer] AS priority,
           (ARRAY[1, 1, 1, 2, 2, 3, 3, 5, 5, 8, 13, 21])[1 + floor(random() * 12)::integer] AS size,
           (ARRAY['general', 'build', 'review', 'docs', 'ops', 'research'])[1 + floor(random() * 6)::integer] AS category,
           CASE WHEN b.open AND random() < 0.03 THEN k.now + interval '1 day' * (1 + random() * 9) END AS deadline,
           b.created_at + (k.now - b.created_at) * (random() * 0.5) AS claimed_at
      FROM k, base b,
           -- author and executor: two different agents of the task's team (agent i is on team i mod teams)
           LATERAL (SELECT (cardinality(k.agents) - 1 - b.t) / cardinality(k.teams) + 1 AS team_size) AS z,
           LATERAL (SELECT floor(random() * z.team_size)::integer AS ra,
                           1 + floor(random() * (z.team_size - 1))::integer AS step) AS r,
           LATERAL (SELECT r.ra * cardinality(k.teams) + b.t AS ai,
                           mod(r.ra + r.step, z.team_size) * cardinality(k.teams) + b.t AS ei) AS p
), v AS MATERIALIZED (
    -- voters: the agents after the author in index order, skipping the executor
    SELECT s.id AS task_id, k.agents[1 + mod(s.ai + j, cardinality(k.agents))] AS agent_id,
           CASE WHEN random() < 0.8 THEN 1 ELSE -1 END AS vote,
           s.created_at + (k.now - s.created_at) * random() AS at
      FROM k, src s, generate_series(1, s.nv) AS j
     WHERE mod(s.ai + j, cardinality(k.agents)) <> s.ei
), counts AS (
    SELECT task_id, count(*) FILTER (WHERE vote = 1)::integer AS up, count(*) FILTER (WHERE vote = -1)::integer AS down
      FROM v GROUP BY task_id
), ranked AS MATERIALIZED (
    SELECT s.*, coalesce(c.up, 0) AS up, coalesce(c.down, 0) AS down,
           phoenix.hot_rank(coalesce(c.up, 0) - coalesce(c.down, 0), s.created_at, k.now) AS hot,
           CASE WHEN s.status = 'open' THEN NULL ELSE s.claimed_at + (k.now - s.claimed_at) * (random() * 0.2) END AS done_at
      FROM k, src s LEFT JOIN counts c ON c.task_id = s.id
), ins_tasks AS (
    INSERT INTO phoenix.tasks (id, title, description, category, payload, priority, team, created_by, assigned_to,
                               upvotes, downvotes, comment_count, hot_score, active_score, controversy,
                               last_activity_at, claim_key, status, attempt, max_attempts, available_at,
                               claimed_at, started_at, completed_at, output, quality_score, last_error,
                               deadline, fibonacci_size, created_at)
    SELECT r.id, 'bench task ' || r.n, 'seeded by phoenix-board bench: a task of realistic width for the board''s pages',
           r.category, jsonb_build_object('n', r.n), r.priority, k.teams[1 + r.t], k.agents[1 + r.ai],
           CASE WHEN r.status <> 'open' THEN k.agents[1 + r.ei] END,
           r.up, r.down, 0, r.hot, r.hot, phoenix.controversy_rank(r.up, r.down),
           r.created_at, phoenix.claim_key(r.created_at, r.priority, r.hot, r.deadline), r.status,
           CASE r.status WHEN 'open' THEN 0 WHEN 'failed' THEN 3 ELSE 1 END, 3, r.created_at,
           CASE WHEN r.status <> 'open' THEN r.claimed_at END,
           CASE WHEN r.status <> 'open' THEN r.claimed_at END,
           r.done_at,
           CASE WHEN r.status = 'complete' THEN '{}'::jsonb END,
           CASE WHEN r.status = 'complete' THEN (0.5 + random() * 0.5)::real END,
           CASE WHEN r.status = 'failed' THEN 'seeded failure' END,
           r.deadline, r.size, r.created_at
      FROM k, ranked r
), ins_votes AS (
    INSERT INTO phoenix.task_votes (task_id, agent_id, vote, at)
    SELECT task_id, agent_id, vote, at FROM v
)
-- the history the board writes: submitted; then claimed and completed or failed
INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
SELECT r.id, e.kind, e.agent, e.attempt, e.at, e.detail
  FROM k, ranked r
 CROSS JOIN LATERAL (VALUES
        ('submitted', k.agents[1 + r.ai], 0, r.created_at, jsonb_build_object('team', k.teams[1 + r.t], 'pending_deps', 0)),
        ('claimed', k.agents[1 + r.ei], 1, r.claimed_at, '{}'::jsonb),
        (r.status::text, k.agents[1 + r.ei], CASE WHEN r.status = 'failed' THEN 3 ELSE 1 END, r.done_at,
         jsonb_build_object('seeded', true))
       ) AS e (kind, agent, attempt, at, detail)
 WHERE e.kind = 'submitted' OR r.status <> 'open';

-- name: bench_seed_agent_counters
-- The seeded agents' performance counters from the seeded history (as phoenix.agent_outcome keeps them).
UPDATE phoenix.agents a
   SET tasks_completed = c.done, tasks_failed = c.failed,
       success_rate = c.done::float8 / (c.done + c.failed),
       fibonacci_level = phoenix.fibonacci_level(c.done),
       average_response_time = c.response
  FROM (SELECT assigned_to, count(*) FILTER (WHERE status = 'complete')::integer AS done,
               count(*) FILTER (WHERE status = 'failed')::integer AS failed,
               avg(completed_at - claimed_at) FILTER (WHERE status = 'complete') AS response
          FROM phoenix.tasks WHERE assigned_to IS NOT NULL AND status IN ('complete', 'failed')
         GROUP BY assigned_to) AS c
 WHERE a.id = c.assigned_to;

-- name: bench_bare_create
-- The baseline's minimal queue table: nothing but what a SKIP LOCKED claim and a completion need.
CREATE TABLE public.bench_bare (id bigint PRIMARY KEY, status text NOT NULL, claimed_at timestamptz);

-- name: bench_bare_index
-- The baseline's partial index on open rows, as tasks_claim_idx is for the board.
CREATE INDEX bench_bare_open_idx ON public.bench_bare (id) WHERE status = 'open';

-- name: bench_bare_fill
-- The baseline's open rows.
INSERT INTO public.bench_bare (id, status) SELECT g, 'open' FROM generate_series(1, %(rows)s::bigint) AS g;

-- name: bench_bare_claim
-- Baseline claim: the first open row, SKIP LOCKED, in one statement.
UPDATE public.bench_bare SET status = 'claimed', claimed_at = now()
 WHERE id = (SELECT id FROM public.bench_bare WHERE status = 'open' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: bench_bare_complete
-- Baseline completion of a claimed row.
UPDATE public.bench_bare SET status = 'complete' WHERE id = %(id)s::bigint AND status = 'claimed';

-- name: bench_vacuum
-- Statistics and visibility map for the seeded tables, as a board that has run a while has them.
VACUUM (ANALYZE);

-- name: bench_checkpoint
-- Write the seeding's dirty pages now, so that no checkpoint lands inside a timed phase.
CHECKPOINT;

-- name: bench_open_count
-- Claimable tasks of a team (the claim phase's supply).
SELECT count(*) AS n FROM phoenix.tasks WHERE team = %(team)s::text AND status = 'open' AND pending_deps = 0;

-- name: bench_vote_targets
-- The vote phase's tasks: the hottest tasks of the board.
SELECT id, created_by, assigned_to FROM phoenix.tasks
 WHERE hot_score > 0 ORDER BY hot_score DESC, created_at DESC, id DESC LIMIT %(limit)s::integer;

-- name: bench_voters
-- Seeded agents that neither wrote nor worked any of the given tasks, so that every vote is allowed.
SELECT a.id FROM phoenix.agents a
 WHERE starts_with(a.codename, %(prefix)s::text)
   AND NOT EXISTS (SELECT 1 FROM phoenix.tasks t
                    WHERE t.id = ANY (%(tasks)s::uuid[]) AND a.id IN (t.created_by, t.assigned_to))
 ORDER BY a.codename LIMIT %(limit)s::integer;

-- name: bench_votes_check
-- Per task: its counters and its vote rows (they must agree after concurrent voting).
SELECT t.id, t.upvotes, t.downvotes,
       count(v.agent_id) FILTER (WHERE v.vote = 1)::integer AS up_rows,
       count(v.agent_id) FILTER (WHERE v.vote = -1)::integer AS down_rows
  FROM phoenix.tasks t LEFT JOIN phoenix.task_votes v ON v.task_id = t.id
 WHERE t.id = ANY (%(tasks)s::uuid[])
 GROUP BY t.id, t.upvotes, t.downvotes;

-- name: bench_e2e_clock
-- The server's clock now: a run counts the completions from here on.
SELECT clock_timestamp() AS at;

-- name: bench_e2e_completed_since
-- How many tasks were completed since a run began (the e2e bench's scratch board holds only its
-- own tasks, none a delegated child): a range of tasks_finished_idx, this run's entries only.
SELECT count(*) AS n FROM phoenix.tasks
 WHERE status = 'complete' AND parent_id IS NULL AND completed_at >= %(since)s::timestamptz;

-- name: bench_e2e_claimed_at
-- When the task with this idempotency key was claimed, and its status.
SELECT claimed_at, status::text AS status FROM phoenix.tasks
 WHERE idempotency_key = %(key)s::text AND claimed_at IS NOT NULL;

-- name: bench_e2e_submit_transactions
-- Submissions on the board and the transactions that wrote them: now() is a transaction's start
-- time in each of its savepoints, so a batch's submitted events share one time.
SELECT count(*) AS submissions, count(DISTINCT at) AS transactions FROM phoenix.task_events WHERE kind = 'submitted';

-- name: bench_e2e_live_agents
-- Agents that have registered (the bench's pool processes).
SELECT count(*) AS n FROM phoenix.agents WHERE decommissioned_at IS NULL;

-- name: bench_beat_live
-- The beat bench: every agent has just sent a heartbeat (so snapshots aggregate them all).
UPDATE phoenix.agents SET last_heartbeat = now() WHERE decommissioned_at IS NULL;

-- name: bench_beat_expired_claims
-- The beat bench: n open tasks become claims whose lease has just expired (work for the sweeper).
WITH picked AS (
    SELECT t.id, (SELECT a.id FROM phoenix.agents a WHERE a.team = t.team ORDER BY a.id LIMIT 1) AS agent
      FROM phoenix.tasks t WHERE t.status = 'open' AND t.pending_deps = 0 LIMIT %(n)s::integer
)
UPDATE phoenix.tasks t
   SET status = 'claimed', assigned_to = p.agent, attempt = t.attempt + 1,
       claimed_at = now() - interval '1 minute', lease_expires_at = now() - interval '1 second'
  FROM picked p WHERE t.id = p.id;

-- name: bench_scrape_deltas
-- bench scrape: task-count deltas the beat has not folded yet, netting to zero (pairs of +1/-1).
INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
SELECT 'alpha_delta', 'open', CASE WHEN g %% 2 = 0 THEN 1 ELSE -1 END, 0, 0
  FROM generate_series(1, %(n)s::integer / 2 * 2) g;

-- name: bench_scrape_jit
-- bench scrape: the server's JIT setting, which the baseline's count(*) pays for.
SELECT current_setting('jit') AS jit;

-- name: bench_scrape_counters_off
-- bench scrape: the kept task counts' triggers off, for the transition-cost baseline.
ALTER TABLE phoenix.tasks DISABLE TRIGGER task_counts_insert, DISABLE TRIGGER task_counts_update,
    DISABLE TRIGGER task_counts_delete;
ALTER TABLE phoenix.task_events DISABLE TRIGGER task_counts_event;

-- name: bench_scrape_counters_on
-- bench scrape: the kept task counts' triggers back on.
ALTER TABLE phoenix.tasks ENABLE TRIGGER task_counts_insert, ENABLE TRIGGER task_counts_update,
    ENABLE TRIGGER task_counts_delete;
ALTER TABLE phoenix.task_events ENABLE TRIGGER task_counts_event;

-- name: bench_flow_claims
-- bench flow's rate accuracy: the claims of a category, and those after its first second (which
-- may spend the burst) with the time they span, from the claims' own times.
WITH c AS (SELECT e.at FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
            WHERE t.category = %(category)s::text AND e.kind = 'claimed'),
     b AS (SELECT min(at) AS first, max(at) AS last, count(*) AS n FROM c)
SELECT b.n AS claims, coalesce(extract(epoch FROM b.last - b.first), 0)::float8 AS span,
       (SELECT count(*) FROM c WHERE c.at > b.first + interval '1 second') AS steady_claims,
       greatest(extract(epoch FROM b.last - (b.first + interval '1 second')), 0)::float8 AS steady_seconds
  FROM b;

-- name: bench_flow_supply
-- bench flow's open tasks, set-based (phoenix.task_new and task_insert, as a submission makes them).
SELECT count(phoenix.task_insert(phoenix.task_new('flow ' || i, '', %(category)s::text, '{}'::jsonb, 5, %(team)s::text,
                                                  NULL, 1.0, 3, 0, NULL, 1, now())))::integer AS made
  FROM generate_series(1, %(n)s::integer) AS i;

-- name: bench_flow_keys
-- bench flow's concurrency keys: the team's open tasks without a key spread over %(keys)s keys of
-- limit %(limit)s, and the keys' slots (as task_submit makes them).
WITH keyed AS (
    UPDATE phoenix.tasks SET concurrency_key = 'bench-key-' || (abs(hashtext(id::text)) %% %(keys)s::integer),
                             concurrency_limit = %(limit)s::integer
     WHERE team = %(team)s::text AND status = 'open' AND concurrency_key IS NULL
    RETURNING 1)
INSERT INTO phoenix.concurrency_slots (key, slot)
SELECT 'bench-key-' || k, n FROM generate_series(0, %(keys)s::integer - 1) AS k, generate_series(1, %(limit)s::integer) AS n
 WHERE (SELECT count(*) FROM keyed) >= 0
ON CONFLICT DO NOTHING;
-- name: bench_agents_fresh
-- The agents bench: agents whose heartbeat is at most this many seconds old.
SELECT count(*) AS n FROM phoenix.agents
 WHERE decommissioned_at IS NULL AND last_heartbeat > now() - make_interval(secs => %(seconds)s::float8);

-- name: bench_agents_connections
-- The agents bench: connections to the scratch database: the agents' (their pools and pollers,
-- by application_name, board/db.py), and all but the bench's own (its client's included).
SELECT count(*) FILTER (WHERE application_name LIKE 'phoenix-agent%%' OR application_name = 'phoenix-poller') AS n,
       count(*) FILTER (WHERE application_name <> %(mine)s::text) AS total
  FROM pg_stat_activity WHERE datname = current_database();

-- name: bench_agents_holding
-- The agents bench's hold: the tasks of a category at work now, and the leases that ran out on
-- that category's tasks so far.
SELECT (SELECT count(*) FROM phoenix.tasks WHERE category = %(category)s::text AND status = 'in_progress') AS working,
       (SELECT count(*) FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
         WHERE e.kind = 'lease_expired' AND t.category = %(category)s::text) AS expired,
       (SELECT count(*) FROM phoenix.tasks WHERE category = %(category)s::text AND status = 'complete') AS complete;

-- name: bench_agents_retire
-- The agents bench: the thread pools' agents leave before the prefork pool's burst, so that the
-- board's counts of live agents and the wake-ups go to the prefork agents only.
UPDATE phoenix.agents SET decommissioned_at = now(), current_task = NULL WHERE codename LIKE %(prefix)s::text || '%%';
-- name: bench_bare_submit
-- Baseline submission: one open row (ids above the filled ones, so they never collide).
INSERT INTO public.bench_bare (id, status) VALUES (%(id)s::bigint, 'open');

-- name: bench_wal_inspect
-- Make pg_walinspect available in the scratch database (superuser, or a role granted pg_read_server_files).
CREATE EXTENSION IF NOT EXISTS pg_walinspect;

-- name: bench_wal_inspect_allowed
-- Whether this role may read WAL records (pg_walinspect revokes them from PUBLIC).
SELECT has_function_privilege('pg_get_wal_records_info(pg_lsn, pg_lsn)', 'execute') AS allowed;

-- name: bench_wal_hold
-- Keep the server from recycling WAL the costs still have to read (a checkpoint on a busy server
-- may remove a segment between a step's start and its reading): a temporary slot of this session.
SELECT pg_create_physical_replication_slot(%(slot)s::name, true, true) IS NOT NULL AS held;

-- name: bench_wal_release
-- Drop that slot (it would also go with its session, but the session goes back to the pool).
SELECT pg_drop_replication_slot(%(slot)s::name);

-- name: bench_wal_lsn
-- Where the next WAL record will go: the start and end of a measured step.
SELECT pg_current_wal_insert_lsn()::text AS lsn;

-- name: bench_wal_bytes
-- WAL written between two positions by the whole server (the fallback without pg_walinspect).
SELECT pg_wal_lsn_diff(%(end)s::pg_lsn, %(start)s::pg_lsn)::bigint AS bytes;

-- name: bench_wal_breakdown
-- The WAL records between two positions that belong to this database, by relation: a record is
-- this database's when its first block is in it, or when it has no block (a commit) and its
-- transaction wrote a block here; so other databases' work on a shared server is left out.
-- Index inserts are B-tree leaf inserts (a split carries its new tuple) and BRIN summary writes.
WITH me AS (
    SELECT oid FROM pg_database WHERE datname = current_database()
), r AS (
    SELECT w.xid, w.resource_manager AS rmgr, w.record_type, w.record_length, w.fpi_length,
           regexp_match(w.block_ref, 'rel (\d+)/(\d+)/(\d+)') AS rel
      -- up to what is flushed (all of it when commits are synchronous): walinspect reads no further
      FROM pg_get_wal_records_info(%(start)s::pg_lsn, least(%(end)s::pg_lsn, pg_current_wal_flush_lsn())) AS w
), mine AS (
    SELECT DISTINCT r.xid FROM r, me WHERE r.rel[2]::oid = me.oid AND r.xid <> '0'::xid
)
SELECT coalesce(
         (SELECT c.oid::regclass::text FROM pg_class c
           WHERE c.oid = pg_filenode_relation(CASE WHEN r.rel[1]::oid = (SELECT dattablespace FROM pg_database
                                                                          WHERE datname = current_database())
                                                   THEN 0 ELSE r.rel[1]::oid END, r.rel[3]::oid)),
         CASE WHEN r.rel IS NULL THEN lower(r.rmgr) ELSE 'relation ' || r.rel[3] END) AS relation,
       count(*)::bigint AS records,
       sum(r.record_length)::bigint AS bytes,
       sum(r.fpi_length)::bigint AS fpi_bytes,
       count(*) FILTER (WHERE (r.rmgr = 'Btree' AND r.record_type IN ('INSERT_LEAF', 'INSERT_POST', 'SPLIT_L', 'SPLIT_R'))
                           OR (r.rmgr = 'BRIN' AND r.record_type IN ('INSERT', 'UPDATE', 'SAMEPAGE_UPDATE')))::bigint AS index_inserts,
       count(*) FILTER (WHERE r.rmgr = 'Heap' AND r.record_type LIKE 'INSERT%%')::bigint AS heap_inserts,
       count(*) FILTER (WHERE r.rmgr = 'Heap' AND r.record_type LIKE 'UPDATE%%')::bigint AS heap_updates,
       count(*) FILTER (WHERE r.rmgr = 'Heap' AND r.record_type LIKE 'HOT_UPDATE%%')::bigint AS hot_updates
  FROM r CROSS JOIN me
 WHERE (r.rel IS NOT NULL AND r.rel[2]::oid = me.oid) OR (r.rel IS NULL AND r.xid IN (SELECT xid FROM mine))
 GROUP BY 1
 ORDER BY 3 DESC, 1;

-- name: bench_backends
-- The server processes connected to this database (of one application_name, if given), and the server's address (NULL over a Unix socket): whether their CPU can be read here.
SELECT host(inet_server_addr()) AS server_address,
       coalesce(array_agg(pid ORDER BY pid), '{}') AS pids
  FROM pg_stat_activity
 WHERE datname = current_database()
   AND (%(application_name)s::text IS NULL OR application_name = %(application_name)s::text);
