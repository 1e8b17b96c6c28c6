-- Statements on phoenix.consciousness_timeline, its rollup, the dashboard and the beat's records.

-- name: consciousness_snapshot
-- One timeline row per team and one 'global' row at a tick; a repeated tick writes nothing.
SELECT phoenix.consciousness_snapshot(%(at)s::timestamptz, %(now)s::timestamptz) AS n;

-- name: timeline_latest
-- The newest row of each team (and 'global') within the last hour.
SELECT DISTINCT ON (team) team, time, global_consciousness, global_trust, team_consciousness, team_coherence,
       avg_dopamine, avg_oxytocin, avg_adrenaline, avg_cortisol, active_agents, tasks_per_hour, decisions_per_second
  FROM phoenix.consciousness_timeline
 WHERE time > coalesce(%(now)s::timestamptz, now()) - interval '1 hour'
 ORDER BY team, time DESC;

-- name: timeline_retention
-- Deletes one batch of timeline rows older than the cut-off (unless TimescaleDB's retention policy
-- drops them).
WITH old AS (
    SELECT time, team FROM phoenix.consciousness_timeline
     WHERE time < %(cutoff)s::timestamptz ORDER BY time LIMIT %(batch)s::integer
)
DELETE FROM phoenix.consciousness_timeline t USING old WHERE t.time = old.time AND t.team = old.team;

-- name: timeline_mode
-- 'timescaledb' when the timeline is a hypertable, else 'postgresql'; with the versions, TimescaleDB's
-- licence ('timescale' for the community features, 'apache' without them) and whether the hourly
-- rollup is a plain materialized view (which the beat refreshes) or a continuous aggregate.
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN 'timescaledb'
            ELSE 'postgresql' END AS mode,
       current_setting('server_version') AS postgres_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_version,
       current_setting('timescaledb.license', true) AS timescaledb_license,
       EXISTS (SELECT 1 FROM pg_matviews WHERE schemaname = 'phoenix' AND matviewname = 'consciousness_hourly')
           AS hourly_matview;

-- name: timescale_jobs
-- TimescaleDB's background jobs on the board's relations and how their runs went (only with the
-- extension: the views exist only then). policy: 'retention' or 'refresh'.
SELECT j.job_id,
       CASE j.proc_name WHEN 'policy_retention' THEN 'retention'
                        WHEN 'policy_refresh_continuous_aggregate' THEN 'refresh' ELSE j.proc_name::text END AS policy,
       j.hypertable_name::text AS relation, j.owner::text AS owner, j.scheduled,
       -- -infinity until a first success (Python's datetime has no infinity)
       s.last_run_status, nullif(s.last_successful_finish, '-infinity') AS last_successful_finish,
       coalesce(s.total_runs, 0) AS total_runs, coalesce(s.total_failures, 0) AS total_failures
  FROM timescaledb_information.jobs j
  LEFT JOIN timescaledb_information.job_stats s USING (job_id)
 WHERE j.hypertable_schema = 'phoenix'
 ORDER BY policy, j.job_id;

-- name: timeline_hypertable
-- Whether the timeline is a hypertable (only with the extension).
SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'phoenix' AND hypertable_name = 'consciousness_timeline') AS hypertable;

-- name: timeline_old_rows
-- Timeline rows older than the cut-off.
SELECT count(*) AS n FROM phoenix.consciousness_timeline WHERE time < %(cutoff)s::timestamptz;

-- name: timeline_drop_chunks
-- Drops the timeline's chunks wholly older than the cut-off (a hypertable without a retention
-- policy: TimescaleDB under its Apache licence).
SELECT count(*) AS chunks FROM drop_chunks('phoenix.consciousness_timeline', older_than => %(cutoff)s::timestamptz);

-- name: matview_populated
-- Whether a materialized view of the phoenix schema holds data (CONCURRENTLY needs it to).
SELECT ispopulated FROM pg_matviews WHERE schemaname = 'phoenix' AND matviewname = %(view)s::text;

-- name: dashboard_refresh
-- Recompute the federation dashboard without blocking its readers.
REFRESH MATERIALIZED VIEW CONCURRENTLY phoenix.federation_dashboard;

-- name: dashboard_populate
-- The first refresh (CONCURRENTLY needs a populated view).
REFRESH MATERIALIZED VIEW phoenix.federation_dashboard;

-- name: hourly_refresh
-- Recompute the hourly rollup (plain PostgreSQL; Timescale's policy refreshes its aggregate).
REFRESH MATERIALIZED VIEW CONCURRENTLY phoenix.consciousness_hourly;

-- name: hourly_populate
-- The first refresh of the hourly rollup.
REFRESH MATERIALIZED VIEW phoenix.consciousness_hourly;

-- name: dashboard_rows
-- The federation dashboard, teams then 'global'.
SELECT * FROM phoenix.federation_dashboard ORDER BY team = 'global', team;

-- name: timeline_range
-- The timeline's rows of one team (or every team and 'global') between two times, oldest first,
-- at most a limit: the API's short-range charts (BRIN / hypertable time index).
SELECT team, time, global_consciousness, global_trust, team_consciousness, team_coherence,
       avg_dopamine, avg_oxytocin, avg_adrenaline, avg_cortisol, active_agents, tasks_per_hour, decisions_per_second
  FROM phoenix.consciousness_timeline
 WHERE time >= %(start)s::timestamptz AND time < %(end)s::timestamptz
   AND (%(team)s::text IS NULL OR team = %(team)s::text)
 ORDER BY time, team
 LIMIT %(limit)s::integer;

-- name: timeline_hourly_range
-- The hourly rollup's rows between two times, oldest first: the API's long-range charts.
SELECT team, bucket, avg_consciousness, peak_consciousness, avg_trust, dopamine_level, total_tasks
  FROM phoenix.consciousness_hourly
 WHERE bucket >= %(start)s::timestamptz AND bucket < %(end)s::timestamptz
   AND (%(team)s::text IS NULL OR team = %(team)s::text)
 ORDER BY bucket, team
 LIMIT %(limit)s::integer;
