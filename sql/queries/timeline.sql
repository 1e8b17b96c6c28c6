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
-- Deletes one batch of timeline rows older than the cut-off (plain PostgreSQL; Timescale drops chunks).
WITH old AS (
    SELECT time, team FROM phoenix.consciousness_timeline
     WHERE time < %(cutoff)s::timestamptz ORDER BY time LIMIT %(batch)s::integer
)
DELETE FROM phoenix.consciousness_timeline t USING old WHERE t.time = old.time AND t.team = old.team;

-- name: timeline_mode
-- 'timescaledb' when the timeline is a hypertable, else 'postgresql'; with the versions.
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN 'timescaledb'
            ELSE 'postgresql' END AS mode,
       current_setting('server_version') AS postgres_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_version;

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
