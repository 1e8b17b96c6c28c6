-- The consciousness timeline, its hourly rollup, the federation dashboard and the beat's records.
--
-- TimescaleDB when the server has it (preloaded), plain PostgreSQL otherwise, under the same names;
-- this file is the one place where the two paths differ (README "Timeline: TimescaleDB or not"):
--   TimescaleDB: consciousness_timeline is a hypertable; consciousness_hourly a continuous
--                aggregate with a refresh policy; a retention policy drops old chunks.
--   TimescaleDB under its Apache licence (no continuous aggregates, no policies: those are
--                community features): the hypertable, and the PostgreSQL path for the rest.
--   PostgreSQL:  a plain table with a BRIN index; consciousness_hourly a materialized view that the
--                beat refreshes; the beat's retention job deletes old rows (drops old chunks of a
--                hypertable).
-- Edited after release for the Apache licence only (a server where this failed before); where it
-- was applied, it did what it does now, so board/migrate.py accepts the earlier checksum.
--
-- Fixes to the seed: its primary key (time, team) cannot hold the NULL team of a global row, so the
-- federation-wide row has team 'global' (and no team may take that name); the dashboard's cross
-- joins multiplied rows, so each figure is aggregated on its own and joined by team.

ALTER TABLE phoenix.teams ADD CONSTRAINT teams_name_not_global CHECK (name <> 'global');

CREATE TABLE phoenix.consciousness_timeline (
    time timestamptz NOT NULL,
    team text NOT NULL,                      -- a team's name, or 'global' for the whole federation
    global_consciousness double precision NOT NULL,
    global_trust double precision NOT NULL,
    team_consciousness double precision,
    team_coherence double precision,
    avg_dopamine double precision,
    avg_oxytocin double precision,
    avg_adrenaline double precision,
    avg_cortisol double precision,
    active_agents integer NOT NULL,
    tasks_per_hour integer NOT NULL,
    decisions_per_second double precision NOT NULL,
    entanglement_pairs integer,              -- pairs arrive with the collaboration issue
    coherence_average interval,
    PRIMARY KEY (time, team)
);

-- What each beat job did last; the exporter serves it, `doctor` reads it.
CREATE TABLE phoenix.beat_runs (
    job text PRIMARY KEY,
    runs bigint NOT NULL DEFAULT 0,
    last_started_at timestamptz,
    last_success_at timestamptz,
    last_duration_ms double precision,
    last_result bigint,
    last_error text
);

-- What the beat's own alert evaluation finds firing now (README "Alerts").
CREATE TABLE phoenix.alerts_firing (
    alertname text NOT NULL,
    team text NOT NULL DEFAULT '',
    severity text NOT NULL,
    summary text NOT NULL,
    value double precision,
    since timestamptz NOT NULL,
    evaluated_at timestamptz NOT NULL,
    PRIMARY KEY (alertname, team)
);

-- the dashboard's "completed in 24 h" and the timeline's tasks per hour; the timeline's decisions
-- per second: all appended in time order, so BRIN indexes are enough and cost little to keep
CREATE INDEX tasks_completed_at_idx ON phoenix.tasks USING brin (completed_at);
CREATE INDEX task_votes_at_idx ON phoenix.task_votes USING brin (at);

DO $timeline$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                         AND current_setting('shared_preload_libraries') LIKE '%timescaledb%';
    community boolean := false;  -- continuous aggregates and policies are allowed
    -- the rollup's query, the same on both paths but for how it cuts hours
    hourly text := $q$
        SELECT %s AS bucket,
               team,
               avg(coalesce(team_consciousness, global_consciousness)) AS avg_consciousness,
               max(coalesce(team_consciousness, global_consciousness)) AS peak_consciousness,
               avg(global_trust) AS avg_trust,
               avg(avg_dopamine) AS dopamine_level,
               max(tasks_per_hour) AS total_tasks
          FROM phoenix.consciousness_timeline
         GROUP BY bucket, team
        WITH NO DATA $q$;
BEGIN
    IF timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        -- the licence is a setting of the loaded library: 'timescale' (community) or 'apache'
        community := current_setting('timescaledb.license', true) = 'timescale';
        PERFORM create_hypertable('phoenix.consciousness_timeline', by_range('time', INTERVAL '1 day'));
    END IF;
    IF community THEN
        -- WITH NO DATA: a continuous aggregate with data cannot be created inside a transaction
        EXECUTE 'CREATE MATERIALIZED VIEW phoenix.consciousness_hourly WITH (timescaledb.continuous) AS '
                || format(hourly, $b$time_bucket(INTERVAL '1 hour', time)$b$);
        PERFORM add_continuous_aggregate_policy('phoenix.consciousness_hourly',
                                                start_offset => INTERVAL '3 hours',
                                                end_offset => INTERVAL '1 minute',
                                                schedule_interval => INTERVAL '5 minutes');
        PERFORM add_retention_policy('phoenix.consciousness_timeline', INTERVAL '30 days');
    ELSE
        IF NOT timescale THEN
            -- serves the time-range reads of dashboards and the retention delete (a hypertable
            -- has its own time index)
            CREATE INDEX consciousness_timeline_time_idx ON phoenix.consciousness_timeline USING brin (time);
        END IF;
        EXECUTE 'CREATE MATERIALIZED VIEW phoenix.consciousness_hourly AS '
                || format(hourly, $b$date_bin(INTERVAL '1 hour', time, TIMESTAMPTZ '2000-01-01')$b$);
        -- REFRESH ... CONCURRENTLY needs a unique index
        CREATE UNIQUE INDEX consciousness_hourly_key ON phoenix.consciousness_hourly (bucket, team);
    END IF;
END
$timeline$;

-- The seed's dashboard without its row-multiplying cross joins: one row per team and one 'global'
-- row, each figure aggregated on its own. The seed's pipeline_value belongs to tables outside
-- this product and is left out.
CREATE MATERIALIZED VIEW phoenix.federation_dashboard AS
WITH teams AS (
    SELECT name AS team FROM phoenix.teams
    UNION ALL SELECT 'global'
), agent_figures AS (
    SELECT coalesce(team, 'global') AS team,
           count(*) AS total_agents,
           count(*) FILTER (WHERE last_heartbeat > now() - INTERVAL '30 seconds') AS active_agents,
           avg(trust_coefficient) AS avg_trust
      FROM phoenix.agents WHERE decommissioned_at IS NULL
     GROUP BY ROLLUP (team)
), done_24h AS (
    SELECT coalesce(team, 'global') AS team, count(*) AS tasks_24h
      FROM phoenix.tasks WHERE completed_at > now() - INTERVAL '24 hours' AND status = 'complete'
     GROUP BY ROLLUP (team)
), waiting AS (
    SELECT coalesce(team, 'global') AS team, count(*) AS open_tasks
      FROM phoenix.tasks WHERE status = 'open'
     GROUP BY ROLLUP (team)
), latest AS (
    SELECT DISTINCT ON (team) team, coalesce(team_consciousness, global_consciousness) AS consciousness, time
      FROM phoenix.consciousness_timeline
     WHERE time > now() - INTERVAL '1 hour'
     ORDER BY team, time DESC
)
SELECT teams.team,
       coalesce(a.total_agents, 0) AS total_agents,
       coalesce(a.active_agents, 0) AS active_agents,
       a.avg_trust,
       coalesce(d.tasks_24h, 0) AS tasks_24h,
       coalesce(w.open_tasks, 0) AS open_tasks,
       l.consciousness AS current_consciousness,
       l.time AS consciousness_at,
       now() AS refreshed_at
  FROM teams
  LEFT JOIN agent_figures a USING (team)
  LEFT JOIN done_24h d USING (team)
  LEFT JOIN waiting w USING (team)
  LEFT JOIN latest l USING (team)
WITH NO DATA;

-- REFRESH ... CONCURRENTLY needs a unique index
CREATE UNIQUE INDEX federation_dashboard_team ON phoenix.federation_dashboard (team);

-- /metrics counts expired leases per team at every scrape: only those rows are indexed
CREATE INDEX task_events_lease_expired_idx ON phoenix.task_events (task_id) WHERE kind = 'lease_expired';
