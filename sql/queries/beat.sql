-- Statements on phoenix.beat_runs and phoenix.alerts_firing.

-- name: beat_try_lock
-- Take the job's advisory lock if free (a second beat running the same job skips it).
SELECT pg_try_advisory_lock(%(key)s::bigint) AS locked;

-- name: beat_unlock
-- Release the job's advisory lock.
SELECT pg_advisory_unlock(%(key)s::bigint) AS unlocked;

-- name: beat_record
-- Record one run of a job: its duration, its result or its error.
INSERT INTO phoenix.beat_runs AS b (job, runs, last_started_at, last_success_at, last_duration_ms, last_result, last_error)
VALUES (%(job)s::text, 1, %(started)s::timestamptz, CASE WHEN %(error)s::text IS NULL THEN %(finished)s::timestamptz END,
        %(ms)s::float8, %(result)s::bigint, %(error)s::text)
ON CONFLICT (job) DO UPDATE
   SET runs = b.runs + 1, last_started_at = excluded.last_started_at,
       last_success_at = coalesce(excluded.last_success_at, b.last_success_at),
       last_duration_ms = excluded.last_duration_ms,
       last_result = coalesce(excluded.last_result, b.last_result), last_error = excluded.last_error;

-- name: beat_runs
-- Every job's last run.
SELECT job, runs, last_started_at, last_success_at, last_duration_ms, last_result, last_error
  FROM phoenix.beat_runs ORDER BY job;

-- name: alerts_replace
-- The alerts firing now (a JSON array of {alertname, team, severity, summary, value}); keeps the
-- `since` of those still firing, drops the resolved ones; returns the set with each `since`.
WITH now_firing AS (
    SELECT * FROM jsonb_to_recordset(%(firing)s::jsonb)
        AS f (alertname text, team text, severity text, summary text, value float8)
), gone AS (
    DELETE FROM phoenix.alerts_firing a
     WHERE NOT EXISTS (SELECT 1 FROM now_firing f WHERE f.alertname = a.alertname AND f.team = a.team)
    RETURNING a.alertname
), kept AS (
    INSERT INTO phoenix.alerts_firing AS a (alertname, team, severity, summary, value, since, evaluated_at)
    SELECT alertname, team, severity, summary, value, %(now)s::timestamptz, %(now)s::timestamptz FROM now_firing
    ON CONFLICT (alertname, team) DO UPDATE
       SET severity = excluded.severity, summary = excluded.summary, value = excluded.value,
           evaluated_at = excluded.evaluated_at
    RETURNING a.*
)
SELECT alertname, team, severity, summary, value, since, (SELECT count(*) FROM gone) AS resolved FROM kept;

-- name: alerts_firing
-- What is firing now.
SELECT alertname, team, severity, summary, value, since, evaluated_at FROM phoenix.alerts_firing ORDER BY alertname, team;

-- name: alert_inputs
-- The figures the beat's alert rules read, per team (the board's own view of the Prometheus rules).
SELECT t.name AS team,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name AND status = 'open') AS open_tasks,
       (SELECT count(*) FROM phoenix.agents WHERE team = t.name AND decommissioned_at IS NULL
           AND last_heartbeat > coalesce(%(now)s::timestamptz, now()) - make_interval(secs => phoenix.k_active_agent_seconds())) AS active_agents,
       (SELECT team_consciousness FROM phoenix.consciousness_timeline WHERE team = t.name
         ORDER BY time DESC LIMIT 1) AS consciousness
  FROM phoenix.teams t ORDER BY t.name;

-- name: backlog_last_hour
-- Tasks created and completed per team in the last hour.
SELECT t.name AS team,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name
           AND created_at > coalesce(%(now)s::timestamptz, now()) - interval '1 hour') AS created,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name AND status = 'complete'
           AND completed_at > coalesce(%(now)s::timestamptz, now()) - interval '1 hour') AS completed
  FROM phoenix.teams t ORDER BY t.name;

-- name: metrics_board
-- Board figures per team for /metrics: tasks by status, created, claims (attempts), agents.
SELECT t.name AS team,
       (SELECT jsonb_object_agg(status, n) FROM (SELECT status::text AS status, count(*) AS n FROM phoenix.tasks
          WHERE team = t.name GROUP BY status) s) AS by_status,
       (SELECT count(*) FROM phoenix.tasks WHERE team = t.name) AS created,
       (SELECT coalesce(sum(attempt), 0) FROM phoenix.tasks WHERE team = t.name) AS claims,
       (SELECT count(*) FROM phoenix.agents WHERE team = t.name AND decommissioned_at IS NULL) AS registered,
       (SELECT count(*) FROM phoenix.agents WHERE team = t.name AND decommissioned_at IS NULL
           AND last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())) AS active,
       (SELECT coalesce(sum(tasks_failed), 0) FROM phoenix.agents WHERE team = t.name) AS attempts_failed,
       (SELECT count(*) FROM phoenix.task_events e JOIN phoenix.tasks x ON x.id = e.task_id
         WHERE e.kind = 'lease_expired' AND x.team = t.name) AS lease_expiries
  FROM phoenix.teams t ORDER BY t.name;

-- name: metrics_agents
-- Every active agent's trust and hormones, for the per-team distributions.
SELECT team, trust_coefficient AS trust, hormone_levels
  FROM phoenix.agents WHERE decommissioned_at IS NULL;

-- name: metrics_database
-- Connections to this database, the server's limit, and its transactions so far.
SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections,
       current_setting('max_connections')::integer AS max_connections,
       (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS transactions;
