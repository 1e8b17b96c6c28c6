-- The hourly rollup includes the current hour on both paths (README "Timeline: TimescaleDB or not").
--
-- Since TimescaleDB 2.13 a continuous aggregate is materialized-only by default: it showed the
-- hours its refresh policy had materialized (up to an hour ago at best) and left out the current
-- one, which the plain-PostgreSQL rollup, refreshed by the beat, includes. Real-time aggregation
-- adds the rows not materialized yet at read time.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        IF EXISTS (SELECT FROM pg_class c WHERE c.oid = 'phoenix.consciousness_hourly'::regclass AND c.relkind = 'v') THEN
            ALTER MATERIALIZED VIEW phoenix.consciousness_hourly SET (timescaledb.materialized_only = false);
        END IF;
    END IF;
END $$;
