-- A database first migrated on a TimescaleDB server while 0002 found TimescaleDB by reading
-- timescaledb.license (defined only once the extension exists in the database, so never on a new
-- one: fixed in board/migrate.py's AS_RUN) took the plain-PostgreSQL path there: a plain timeline
-- and a materialized view the beat refreshes. This gives such a database what 0002 and 0012 give
-- a new one: the extension, the timeline as a hypertable (its rows moved into chunks), and under
-- the community licence the real-time continuous aggregate and the refresh and retention
-- policies (docs/concepts/beat.md, "Timeline: TimescaleDB or not"). Anywhere else it does nothing:
-- plain PostgreSQL, a timeline that already is a hypertable. sql/security/roles.sql, applied
-- after it, hands the new relations and their jobs to the migrating login as for a new database.
DO $convert$
DECLARE
    community boolean;
    hypertable boolean := false;
BEGIN
    -- TimescaleDB's loader, preloaded, defines this setting in every database (as in AS_RUN)
    IF NOT EXISTS (SELECT FROM pg_settings WHERE name = 'timescaledb.max_background_workers')
       OR NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- (a dynamic statement: the view does not exist before the extension)
        EXECUTE $q$SELECT EXISTS (SELECT FROM timescaledb_information.hypertables
                                   WHERE hypertable_schema = 'phoenix' AND hypertable_name = 'consciousness_timeline')$q$
           INTO hypertable;
    END IF;
    IF hypertable THEN
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    community := current_setting('timescaledb.license', true) = 'timescale';
    -- a hypertable has its own time index
    DROP INDEX IF EXISTS phoenix.consciousness_timeline_time_idx;
    -- the table belongs to the login running this while it becomes a hypertable, as in a new
    -- database: its chunks are made as its owner (the owner role, which the plain path handed it
    -- to, may not create in TimescaleDB's internal schema), and a policy's job runs as its owner,
    -- which must be able to log in. sql/security/roles.sql, applied next, keeps it with this login
    -- when it has jobs and hands it back to the owner role when not (the Apache licence).
    ALTER TABLE phoenix.consciousness_timeline OWNER TO SESSION_USER;
    PERFORM create_hypertable('phoenix.consciousness_timeline', by_range('time', INTERVAL '1 day'),
                              migrate_data => true);
    IF community THEN
        DROP MATERIALIZED VIEW phoenix.consciousness_hourly;
        -- 0002's rollup, cut by time_bucket; WITH NO DATA, as a continuous aggregate with data cannot
        -- be made inside a transaction: real-time aggregation (0012) shows every hour at once, and
        -- the refresh policy materializes the recent ones
        CREATE MATERIALIZED VIEW phoenix.consciousness_hourly
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
               team,
               avg(coalesce(team_consciousness, global_consciousness)) AS avg_consciousness,
               max(coalesce(team_consciousness, global_consciousness)) AS peak_consciousness,
               avg(global_trust) AS avg_trust,
               avg(avg_dopamine) AS dopamine_level,
               max(tasks_per_hour) AS total_tasks
          FROM phoenix.consciousness_timeline
         GROUP BY bucket, team
        WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('phoenix.consciousness_hourly',
                                                start_offset => INTERVAL '3 hours',
                                                end_offset => INTERVAL '1 minute',
                                                schedule_interval => INTERVAL '5 minutes');
        PERFORM add_retention_policy('phoenix.consciousness_timeline', INTERVAL '30 days');
    END IF;
END
$convert$;
