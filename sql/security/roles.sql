-- Roles, ownership, privileges and row-level security (docs/concepts/security.md).
-- A template: board/migrate.py puts the configured role names in for @owner@,
-- @agent@ and @monitor@ (PHOENIX_ROLE_PREFIX + _owner, _agent, _monitor) and applies it after
-- every migration or function change, in the same transaction, so that privileges always match
-- the functions that exist. Every statement is idempotent.
--
--   @owner@    owns the schema and everything in it; migrations, the beat and operators.
--   @agent@    the workers: no direct write on any table; calls the agent API below (functions
--              that run as the owner with a fixed search_path) and reads, under row-level
--              security, only what its acting agent (phoenix.agent_id) may see.
--   @monitor@  the exporter and the dashboards: reads everything, writes nothing.
-- The three are NOLOGIN groups: give logins membership (docs/operations/many-hosts.md shows how), or SET ROLE.

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
-- The migrating login hands what it created to the owner role below, which PostgreSQL allows only
-- to members of that role: a CREATEROLE login (not a superuser) that created the role makes itself
-- one; any other login must be made a member by whoever administers the roles.
DO $$ BEGIN
    IF NOT pg_has_role(current_user, '@owner@', 'USAGE') THEN
        EXECUTE format('GRANT @owner@ TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE EXCEPTION USING ERRCODE = 'PBFB0',
        MESSAGE = format('login %s may not migrate: it is not a member of @owner@ and cannot make itself one; '
                         'run GRANT @owner@ TO %s as a superuser, or migrate as a superuser', current_user, current_user);
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
-- so that the SECURITY DEFINER functions run with the owner's rights and no more. Except the
-- relations TimescaleDB runs background jobs for (the timeline's retention policy, the hourly
-- aggregate's refresh policy): a job runs as its relation's owner, which must be able to log in,
-- and the owner role cannot. They, and any continuous aggregate (which TimescaleDB's ALTER VIEW
-- refuses), belong to the login that migrates (below).
ALTER SCHEMA phoenix OWNER TO @owner@;
DO $$
DECLARE
    r record;
    with_jobs oid[] := '{}';
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- dynamic: the view exists only with the extension
        EXECUTE $q$SELECT coalesce(array_agg(DISTINCT format('%I.%I', s, n)::regclass::oid), '{}') FROM (
                       SELECT hypertable_schema, hypertable_name FROM timescaledb_information.jobs
                       UNION ALL
                       SELECT view_schema, view_name FROM timescaledb_information.continuous_aggregates) AS r(s, n)
                     WHERE s = 'phoenix'$q$ INTO with_jobs;
    END IF;
    FOR r IN
        SELECT format('ALTER %s %s OWNER TO @owner@',
                      CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' END,
                      c.oid::regclass) AS stmt
          FROM pg_class c
         WHERE c.relnamespace = 'phoenix'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND c.relowner <> '@owner@'::regrole AND c.oid <> ALL (with_jobs)
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
        EXECUTE r.stmt;
    END LOOP;
    -- The relations with TimescaleDB jobs, and so the jobs (TimescaleDB moves a relation's jobs
    -- with it), belong to the login running this: it can log in, and it is a member of the owner
    -- role (docs/concepts/security.md). A continuous aggregate takes ALTER MATERIALIZED VIEW (TimescaleDB
    -- refuses ALTER VIEW on it) and carries its materialization table along. The owner role gets
    -- what the beat and the dashboard's refresh do with them.
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind, c.relowner FROM pg_class c WHERE c.oid = ANY (with_jobs) LOOP
        IF r.relowner <> (SELECT oid FROM pg_roles WHERE rolname = session_user) THEN
            BEGIN
                EXECUTE format('ALTER %s %s OWNER TO SESSION_USER',
                               CASE r.relkind WHEN 'v' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.rel);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'TimescaleDB''s jobs on % run as its owner %, not as this login: %', r.rel,
                              r.relowner::regrole, SQLERRM;
            END;
        END IF;
        EXECUTE format('GRANT %s ON %s TO @owner@', CASE r.relkind WHEN 'v' THEN 'SELECT' ELSE 'SELECT, INSERT, DELETE' END,
                       r.rel);
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
                AND p.oid <> 'phoenix.reviews_claimable_count(text,integer)'::regprocedure
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
        'phoenix.task_submit(text,text,text,jsonb,integer,text,uuid,real,integer,integer,uuid[],timestamptz,integer,text,timestamptz,boolean,timestamptz,text,integer)',
        'phoenix.task_claim(uuid,float8,timestamptz)',
        'phoenix.task_claim_start(uuid,float8,timestamptz)',
        'phoenix.task_renew(uuid,uuid,integer,float8,timestamptz)',
        'phoenix.task_renew_held(uuid,uuid[],uuid[],integer[],float8,timestamptz)',
        'phoenix.task_start(uuid,uuid,integer,float8,timestamptz)',
        'phoenix.task_result(uuid,uuid,integer,jsonb,real,timestamptz)',
        'phoenix.task_result_claim_next(uuid,uuid,integer,jsonb,real,float8,timestamptz)',
        'phoenix.task_fail(uuid,uuid,integer,text,timestamptz)',
        'phoenix.task_fail_unhandled(uuid,uuid,integer,timestamptz)',
        'phoenix.task_fail_unloadable(uuid,uuid,integer,text,timestamptz)',
        'phoenix.task_review(uuid,uuid,integer,text,timestamptz)',
        'phoenix.task_review_claim(uuid,float8,timestamptz)',
        'phoenix.reviews_claimable_count(text,integer)',
        'phoenix.task_release_expired(timestamptz,integer)',
        'phoenix.task_delegate(uuid,uuid,integer,jsonb,integer,text,timestamptz)',
        'phoenix.task_cancel(uuid,uuid,text,timestamptz)',
        'phoenix.task_children(uuid,uuid)',
        'phoenix.tasks_claimable_count(text,integer)',
        'phoenix.task_vote(uuid,uuid,integer,text,timestamptz)',
        'phoenix.comment_add(uuid,uuid,uuid,text,timestamptz,text)',
        'phoenix.comment_vote(uuid,uuid,integer,timestamptz)',
        'phoenix.agent_register(text,text,text,text[],uuid,timestamptz)',
        'phoenix.agent_heartbeat(uuid,uuid,timestamptz)',
        'phoenix.agents_heartbeat(uuid[],uuid)',
        'phoenix.agent_release(uuid,uuid)',
        'phoenix.review_pool_size(text,text)',
        'phoenix.assessors_for(text,uuid,integer)'
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
-- Every process reads the schema's version (board/migrate.py), so that one logging in with the
-- agent role can tell that a migration is pending instead of failing on it.
GRANT SELECT ON phoenix.schema_version, phoenix.schema_functions TO @agent@;
GRANT SELECT ON phoenix.teams, phoenix.tasks, phoenix.task_votes, phoenix.task_reviews,
                phoenix.task_comments, phoenix.comment_votes, phoenix.task_events, phoenix.agent_interactions,
                phoenix.task_dependencies
    TO @agent@;
-- Agents' profiles are public to agents, but current_task would name other teams' work: the agent
-- role reads every column but that one, and reads whole rows through phoenix.agents_seen, where
-- current_task shows only when the reader may see that task. Built from the catalog so that a
-- column added by a later migration is included; the view is rebuilt at each application.
DO $$
DECLARE
    v_cols text;
    v_view text;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FILTER (WHERE attname <> 'current_task'),
           string_agg(CASE WHEN attname = 'current_task'
                           THEN 'CASE WHEN a.id = phoenix.acting_agent() OR phoenix.caller_is_owner()'
                                || ' OR pg_has_role(phoenix.invoker(), ''@monitor@'', ''MEMBER'')'
                                || ' OR EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = a.current_task'
                                || ' AND phoenix.agent_sees_task(t.assigned_to, t.created_by, t.status, t.team, t.category))'
                                || ' THEN a.current_task END AS current_task'
                           ELSE 'a.' || quote_ident(attname) END, ', ' ORDER BY attnum)
      INTO v_cols, v_view
      FROM pg_attribute WHERE attrelid = 'phoenix.agents'::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('GRANT SELECT (%s) ON phoenix.agents TO @agent@', v_cols);
    DROP VIEW IF EXISTS phoenix.agents_seen;
    EXECUTE format('CREATE VIEW phoenix.agents_seen WITH (security_barrier) AS SELECT %s FROM phoenix.agents a', v_view);
    ALTER VIEW phoenix.agents_seen OWNER TO @owner@;
    GRANT SELECT ON phoenix.agents_seen TO @agent@, @monitor@;
END $$;

-- Row-level security. The owner bypasses it (it owns the tables), so the board's functions see
-- every row; the monitor sees every row; an agent sees:
--   tasks:        those it claimed or submitted, and open or in-review tasks of its team or of
--                 its specializations (the ones it may be asked to assess or review), and every
--                 task left in review past REVIEW_WIDEN_SECONDS (any agent may review it then);
--   agents:       every agent (the federation's profiles, trust and hormones are public to it);
--   history:      votes, reviews, comments and events of the tasks it sees, and its own;
--   dependencies: the links whose dependent task it sees;
--   interactions: those from or to itself.
DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['phoenix.tasks', 'phoenix.agents', 'phoenix.task_votes', 'phoenix.task_reviews',
                             'phoenix.task_comments', 'phoenix.comment_votes', 'phoenix.task_events',
                             'phoenix.agent_interactions', 'phoenix.task_dependencies']::regclass[] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS monitor_reads ON %s', t);
        EXECUTE format('CREATE POLICY monitor_reads ON %s FOR SELECT TO @monitor@ USING (true)', t);
    END LOOP;
END $$;

DROP POLICY IF EXISTS agent_reads ON phoenix.tasks;
CREATE POLICY agent_reads ON phoenix.tasks FOR SELECT TO @agent@ USING (
    phoenix.agent_sees_task(assigned_to, created_by, status, team, category, review_since));
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
-- a link shows when the agent sees the dependent task (its dependencies are named there anyway)
DROP POLICY IF EXISTS agent_reads ON phoenix.task_dependencies;
CREATE POLICY agent_reads ON phoenix.task_dependencies FOR SELECT TO @agent@ USING (
    EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = task_id));
DROP POLICY IF EXISTS agent_reads ON phoenix.agent_interactions;
CREATE POLICY agent_reads ON phoenix.agent_interactions FOR SELECT TO @agent@ USING (
    agent_to = phoenix.acting_agent() OR agent_from = phoenix.acting_agent());

-- Locks and scratch space only the owner holds (docs/concepts/security.md). The event stream's relay and
-- the beat's jobs hold session advisory locks, so a login that could take the same keys could stop
-- them: the advisory lock functions are the owner's alone (the agent API takes its transaction
-- locks inside the owner's functions). The monitor writes nothing, and neither does the agent role
-- outside the board's functions: no temporary tables, no large objects. These privileges live in
-- pg_catalog and the database, which only a superuser or the database owner may change; a
-- migration run by anyone else says so and goes on.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace
                AND (p.proname ~ '^pg_(try_)?advisory_'
                     OR p.proname IN ('lo_create', 'lo_creat', 'lo_from_bytea', 'lo_put', 'lowrite', 'lo_unlink',
                                      'lo_truncate', 'lo_truncate64', 'lo_import'))
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        IF f::text ~ '^pg_' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO @owner@', f);
        END IF;
    END LOOP;
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO @owner@', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'advisory locks, large objects and temporary tables left open to every login (needs a superuser): %', SQLERRM;
END $$;
