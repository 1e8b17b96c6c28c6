-- What the exporter and the status commands count (docs/operations/metrics.md): the task counters and their
-- fold, the board's figures, agent distributions, the database's own figures.

-- name: metrics_no_jit
-- No JIT for the exporter's session: compiling a scrape's small reads costs more than running them
-- (JIT was most of a 1.4 s scrape when the exporter counted every task).
SELECT set_config('jit', 'off', false) AS jit;

-- name: metrics_board
-- Board figures per team for /metrics: tasks by status, created, claims (attempts), lease expiries
-- from the kept counts (phoenix.task_counts plus the deltas the beat has not folded yet: a few rows
-- per team and status whatever the board's size, migration 0011), and agents. by_status is what is
-- on the board now; the counters (created, completed, failed, claims) add what retention took off
-- it (`pruned`, migration 0029), so that they never go down.
WITH counts AS (
    SELECT team, status, sum(tasks) AS tasks, sum(attempts) AS attempts, sum(lease_expiries) AS lease_expiries,
           sum(tasks + pruned) AS ever, sum(attempts + pruned_attempts) AS claims
      FROM (SELECT team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts FROM phoenix.task_counts
            UNION ALL
            SELECT team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts
              FROM phoenix.task_count_changes) c
     GROUP BY team, status
)
SELECT t.name AS team,
       (SELECT jsonb_object_agg(status::text, tasks) FROM counts WHERE team = t.name) AS by_status,
       (SELECT coalesce(sum(ever), 0) FROM counts WHERE team = t.name) AS created,
       (SELECT coalesce(sum(ever), 0) FROM counts WHERE team = t.name AND status = 'complete') AS completed,
       (SELECT coalesce(sum(ever), 0) FROM counts WHERE team = t.name AND status = 'failed') AS failed,
       (SELECT coalesce(sum(claims), 0) FROM counts WHERE team = t.name) AS claims,
       (SELECT count(*) FROM phoenix.agents WHERE team = t.name AND decommissioned_at IS NULL AND kind = 'agent')
           AS registered,
       (SELECT count(*) FROM phoenix.agents WHERE team = t.name AND decommissioned_at IS NULL AND kind = 'agent'
           AND last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())) AS active,
       (SELECT coalesce(sum(tasks_failed), 0) FROM phoenix.agents WHERE team = t.name) AS attempts_failed,
       (SELECT coalesce(sum(lease_expiries), 0) FROM counts WHERE team = t.name) AS lease_expiries
  FROM phoenix.teams t ORDER BY t.name;

-- name: metrics_board_counted
-- The same task figures counted over every row, as the exporter read them before the kept counts:
-- `bench scrape`'s baseline, and the tests' check that the kept counts agree.
SELECT t.name AS team,
       (SELECT jsonb_object_agg(status, n) FROM (SELECT status::text AS status, count(*) AS n FROM phoenix.tasks
          WHERE team = t.name GROUP BY status) s) AS by_status,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name) AS created,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name AND status = 'complete') AS completed,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name AND status = 'failed') AS failed,
       (SELECT coalesce(sum(attempt), 0) FROM phoenix.tasks WHERE team = t.name) AS claims,
       (SELECT count(*) FROM phoenix.task_events e JOIN phoenix.tasks x ON x.id = e.task_id
         WHERE e.kind = 'lease_expired' AND x.team = t.name) AS lease_expiries
  FROM phoenix.teams t ORDER BY t.name;

-- name: task_counts_fold
-- Fold the deltas the triggers appended into phoenix.task_counts; returns how many were folded.
SELECT phoenix.task_counts_fold() AS folded;

-- name: task_counts_rebuild
-- Recount phoenix.task_counts from every task (after a load with triggers off).
SELECT phoenix.task_counts_rebuild() AS rows;

-- name: task_status_counts
-- Tasks per status and team, for the board summary.
SELECT team, status::text AS status, count(*) AS n
  FROM phoenix.tasks
 WHERE (%(team)s::text IS NULL OR team = %(team)s::text)
 GROUP BY team, status ORDER BY team, status;

-- name: metrics_review_oldest
-- Per team, how long the oldest task in review has waited for its verdicts (ReviewStalled). A task
-- that asks for a person is left out: it waits for people for days (REVIEW_PERSON_EXPIRE_SECONDS),
-- and the console lists it as waiting for people.
SELECT team, extract(epoch FROM now() - min(review_since))::float8 AS seconds
  FROM phoenix.tasks WHERE status = 'review' AND NOT needs_person GROUP BY team ORDER BY team;

-- name: metrics_agent_distributions
-- Agents in service per team (members are people, not counted), trust and each hormone, grouped by how many of the histogram's bounds
-- are >= the value (width_bucket counts the bounds <= its operand; given the value and the bounds
-- negated, in reverse order, it counts the bounds >= the value), with their count and sum.
-- Aggregated here, so a scrape fetches a few rows per team rather than every agent's row.
WITH v AS (
    SELECT team, 'trust'::text AS measure, trust_coefficient::float8 AS value
      FROM phoenix.agents WHERE decommissioned_at IS NULL AND kind = 'agent'
    UNION ALL
    SELECT a.team, h.key, h.value::float8
      FROM phoenix.agents a CROSS JOIN LATERAL jsonb_each_text(a.hormone_levels) h
     WHERE a.decommissioned_at IS NULL AND a.kind = 'agent'
)
SELECT team, measure,
       width_bucket(-value, CASE WHEN measure = 'trust' THEN %(trust_negated)s::float8[]
                                 ELSE %(hormone_negated)s::float8[] END) AS bounds_above,
       count(*) AS n, sum(value) AS total
  FROM v GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- name: metrics_database
-- Connections to this database and to the whole server (client backends, what max_connections
-- limits), the server's limit, and this database's transactions so far. Client backends on both
-- counts: a database also has backends that are no connection (TimescaleDB's scheduler and its
-- jobs, autovacuum and parallel workers), which made this database's figure exceed the server's.
SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                                                AND backend_type = 'client backend') AS connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS server_connections,
       current_setting('max_connections')::integer AS max_connections,
       (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS transactions;
