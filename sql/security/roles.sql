-- Roles, ownership, privileges and row-level security (README "Security: roles and row-level
-- security"). A template: board/migrate.py puts the configured role names in for @owner@,
-- @agent@ and @monitor@ (PHOENIX_ROLE_PREFIX + _owner, _agent, _monitor) and applies it after
-- every migration or function change, in the same transaction, so that privileges always match
-- the functions that exist. Every statement is idempotent.
--
--   @owner@    owns the schema and everything in it; migrations, the beat and operators.
--   @agent@    the workers: no direct write on any table; calls the agent API below (functions
--              that run as the owner with a fixed search_path) and reads, under row-level
--              security, only what its acting agent (phoenix.agent_id) may see.
--   @monitor@  the exporter and the dashboards: reads everything, writes nothing.
-- The three are NOLOGIN groups: give logins membership (README shows how), or SET ROLE.

-- Roles are shared by every database of the server; another database's migration may create
-- them at the same moment, hence the duplicate_object handlers.
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '@owner@') THEN CREATE ROLE @owner@ NOLOGIN; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '@agent@') THEN CREATE ROLE @agent@ NOLOGIN; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '@monitor@') THEN CREATE ROLE @monitor@ NOLOGIN; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
-- connection counts and the like need pg_monitor; only a superuser can grant it
DO $$ BEGIN
    IF NOT pg_has_role('@monitor@', 'pg_monitor', 'MEMBER') THEN GRANT pg_monitor TO @monitor@; END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_monitor not granted to @monitor@ (needs a superuser): connection metrics will count only its own';
END $$;

CREATE OR REPLACE FUNCTION phoenix.owner_role() RETURNS name
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT '@owner@'::name $$;

-- Ownership: whatever a migration created (as whichever login ran it) belongs to the owner role,
-- so that the SECURITY DEFINER functions run with the owner's rights and no more.
ALTER SCHEMA phoenix OWNER TO @owner@;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT format('ALTER %s %s OWNER TO @owner@',
                      CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' END,
                      c.oid::regclass) AS stmt
          FROM pg_class c
         WHERE c.relnamespace = 'phoenix'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND c.relowner <> '@owner@'::regrole
           -- identity sequences follow their table
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT format('ALTER %s %s OWNER TO @owner@', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                      p.oid::regprocedure)
          FROM pg_proc p WHERE p.pronamespace = 'phoenix'::regnamespace AND p.proowner <> '@owner@'::regrole
        UNION ALL
        SELECT format('ALTER TYPE %s OWNER TO @owner@', t.oid::regtype)
          FROM pg_type t WHERE t.typnamespace = 'phoenix'::regnamespace AND t.typtype = 'e'
           AND t.typowner <> '@owner@'::regrole
    LOOP
        BEGIN
            EXECUTE r.stmt;
        EXCEPTION WHEN feature_not_supported OR wrong_object_type THEN
            -- e.g. TimescaleDB's continuous aggregates keep the owner they were created with
            RAISE NOTICE '% skipped: %', r.stmt, SQLERRM;
        END;
    END LOOP;
END $$;

-- Privileges start from nothing at each application, then are granted.
REVOKE ALL ON SCHEMA phoenix FROM PUBLIC;
GRANT USAGE ON SCHEMA phoenix TO @agent@, @monitor@;
REVOKE ALL ON ALL TABLES IN SCHEMA phoenix FROM PUBLIC, @agent@, @monitor@;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA phoenix FROM PUBLIC, @agent@, @monitor@;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA phoenix FROM PUBLIC, @agent@, @monitor@;

-- Functions that only compute or read (the constants, ranks, trust, hashes) are for everyone.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'phoenix'::regnamespace AND p.prokind = 'f' AND p.provolatile IN ('i', 's')
                AND p.prorettype <> 'trigger'::regtype
                AND p.oid <> 'phoenix.tasks_claimable_count(text,integer)'::regprocedure
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO @agent@, @monitor@', f);
    END LOOP;
END $$;

-- The agent API: each runs as the owner, with a search_path nobody can plant objects in.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'phoenix.task_submit(text,text,text,jsonb,integer,text,uuid,real,integer,integer,uuid[],timestamptz,integer,text,timestamptz)',
        'phoenix.task_claim(uuid,float8,timestamptz)',
        'phoenix.task_claim_start(uuid,float8,timestamptz)',
        'phoenix.task_renew(uuid,uuid,integer,float8,timestamptz)',
        'phoenix.task_start(uuid,uuid,integer,float8,timestamptz)',
        'phoenix.task_result(uuid,uuid,integer,jsonb,real,timestamptz)',
        'phoenix.task_result_claim_next(uuid,uuid,integer,jsonb,real,float8,timestamptz)',
        'phoenix.task_fail(uuid,uuid,integer,text,timestamptz)',
        'phoenix.task_fail_unhandled(uuid,uuid,integer,timestamptz)',
        'phoenix.task_review(uuid,uuid,integer,text,timestamptz)',
        'phoenix.task_release_expired(timestamptz,integer)',
        'phoenix.task_delegate(uuid,uuid,integer,jsonb,integer,text,timestamptz)',
        'phoenix.task_cancel(uuid,uuid,text,timestamptz)',
        'phoenix.task_children(uuid,uuid)',
        'phoenix.tasks_claimable_count(text,integer)',
        'phoenix.task_vote(uuid,uuid,integer,text,timestamptz)',
        'phoenix.comment_add(uuid,uuid,uuid,text,timestamptz)',
        'phoenix.comment_vote(uuid,uuid,integer,timestamptz)',
        'phoenix.agent_register(text,text,text,text[],timestamptz)',
        'phoenix.agent_heartbeat(uuid,timestamptz)'
    ]::regprocedure[] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO @agent@', f);
    END LOOP;
END $$;
-- row-level security reads the acting agent's row through this one
ALTER FUNCTION phoenix.agent_may_judge(text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
GRANT EXECUTE ON FUNCTION phoenix.agent_may_judge(text, text) TO @agent@;

-- The monitor reads every table and view; the agent reads these, row by row as below.
-- phoenix.outbox (the event stream) is written only by triggers that run inside the owner's
-- functions and read and marked only by the relay (as the owner, with phoenix.outbox_assign, which
-- the volatile-function rule above grants to nobody); the monitor reads it for the relay's lag.
GRANT SELECT ON ALL TABLES IN SCHEMA phoenix TO @monitor@;
GRANT SELECT ON phoenix.teams, phoenix.agents, phoenix.tasks, phoenix.task_votes, phoenix.task_reviews,
                phoenix.task_comments, phoenix.comment_votes, phoenix.task_events, phoenix.agent_interactions
    TO @agent@;

-- Row-level security. The owner bypasses it (it owns the tables), so the board's functions see
-- every row; the monitor sees every row; an agent sees:
--   tasks:        those it claimed or submitted, and open or in-review tasks of its team or of
--                 its specializations (the ones it may be asked to assess or review);
--   agents:       every agent (the federation's profiles, trust and hormones are public to it);
--   history:      votes, reviews, comments and events of the tasks it sees, and its own;
--   interactions: those from or to itself.
DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['phoenix.tasks', 'phoenix.agents', 'phoenix.task_votes', 'phoenix.task_reviews',
                             'phoenix.task_comments', 'phoenix.comment_votes', 'phoenix.task_events',
                             'phoenix.agent_interactions']::regclass[] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS monitor_reads ON %s', t);
        EXECUTE format('CREATE POLICY monitor_reads ON %s FOR SELECT TO @monitor@ USING (true)', t);
    END LOOP;
END $$;

DROP POLICY IF EXISTS agent_reads ON phoenix.tasks;
CREATE POLICY agent_reads ON phoenix.tasks FOR SELECT TO @agent@ USING (
    assigned_to = phoenix.acting_agent() OR created_by = phoenix.acting_agent()
    OR (status IN ('open', 'review') AND phoenix.agent_may_judge(team, category)));
DROP POLICY IF EXISTS agent_reads ON phoenix.agents;
CREATE POLICY agent_reads ON phoenix.agents FOR SELECT TO @agent@ USING (true);
DROP POLICY IF EXISTS agent_reads ON phoenix.task_votes;
CREATE POLICY agent_reads ON phoenix.task_votes FOR SELECT TO @agent@ USING (
    agent_id = phoenix.acting_agent() OR EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = task_id));
DROP POLICY IF EXISTS agent_reads ON phoenix.task_reviews;
CREATE POLICY agent_reads ON phoenix.task_reviews FOR SELECT TO @agent@ USING (
    agent_id = phoenix.acting_agent() OR EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = task_id));
DROP POLICY IF EXISTS agent_reads ON phoenix.task_comments;
CREATE POLICY agent_reads ON phoenix.task_comments FOR SELECT TO @agent@ USING (
    agent_id = phoenix.acting_agent() OR EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = task_id));
DROP POLICY IF EXISTS agent_reads ON phoenix.comment_votes;
CREATE POLICY agent_reads ON phoenix.comment_votes FOR SELECT TO @agent@ USING (agent_id = phoenix.acting_agent());
DROP POLICY IF EXISTS agent_reads ON phoenix.task_events;
CREATE POLICY agent_reads ON phoenix.task_events FOR SELECT TO @agent@ USING (
    EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = task_id));
DROP POLICY IF EXISTS agent_reads ON phoenix.agent_interactions;
CREATE POLICY agent_reads ON phoenix.agent_interactions FOR SELECT TO @agent@ USING (
    agent_to = phoenix.acting_agent() OR agent_from = phoenix.acting_agent());
