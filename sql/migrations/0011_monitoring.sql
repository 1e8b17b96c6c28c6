-- Monitoring (README "Alerts and runbooks", "Metrics").
--
-- The beat no longer evaluates alerts of its own: metrics/prometheus/alerts.yml is the one
-- definition of every alert, so an SRE is told once. Its table and its job's record go.
DROP TABLE IF EXISTS phoenix.alerts_firing;
DELETE FROM phoenix.beat_runs WHERE job = 'alerts';

-- The exporter's task figures, kept as counts instead of counted at every scrape: count(*) over
-- every task cost a scrape 1.4 s at 1,700 tasks (mostly JIT) and grows with the board. Statement
-- triggers on tasks and task_events append signed deltas to task_count_deltas (appends take no
-- row lock, so concurrent claims do not queue on a counter row); the beat's `task_counts` job
-- folds them into task_counts every few seconds. A scrape reads task_counts plus the deltas not
-- yet folded: a few rows per team and status, whatever the board's size.
CREATE TABLE phoenix.task_counts (
    team text NOT NULL,
    status phoenix.task_status NOT NULL,
    tasks bigint NOT NULL DEFAULT 0,          -- tasks in this status now
    attempts bigint NOT NULL DEFAULT 0,       -- sum of their attempts (claims so far)
    lease_expiries bigint NOT NULL DEFAULT 0, -- lease_expired events (kept on status 'open')
    PRIMARY KEY (team, status)
);

CREATE TABLE phoenix.task_count_deltas (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team text NOT NULL,
    status phoenix.task_status NOT NULL,
    tasks bigint NOT NULL,
    attempts bigint NOT NULL,
    lease_expiries bigint NOT NULL
);

-- Row triggers with a WHEN condition: an update that moves no count (a vote, a renewal, the hot
-- refresh) is skipped before any function is called, and no transition table is built for it.
CREATE FUNCTION phoenix.task_counts_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
        VALUES (OLD.team, OLD.status, -1, -OLD.attempt, 0);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
        VALUES (NEW.team, NEW.status, 1, NEW.attempt, 0);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION phoenix.task_counts_on_lease_expired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
    SELECT t.team, 'open', 0, 0, 1 FROM phoenix.tasks t WHERE t.id = NEW.task_id;
    RETURN NULL;
END $$;

-- A full recount (the migration's backfill; `phoenix-board bench scrape` after seeding with
-- triggers off). Locks out writers of tasks while it counts, so no delta is lost or doubled.
CREATE FUNCTION phoenix.task_counts_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE phoenix.tasks IN SHARE MODE;
    LOCK TABLE phoenix.task_events IN SHARE MODE;
    DELETE FROM phoenix.task_count_deltas;
    DELETE FROM phoenix.task_counts;
    INSERT INTO phoenix.task_counts (team, status, tasks, attempts, lease_expiries)
    SELECT team, status, count(*), coalesce(sum(attempt), 0), 0 FROM phoenix.tasks GROUP BY team, status
    ON CONFLICT (team, status) DO NOTHING;
    INSERT INTO phoenix.task_counts AS c (team, status, lease_expiries)
    SELECT t.team, 'open', count(*) FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
     WHERE e.kind = 'lease_expired' GROUP BY t.team
    ON CONFLICT (team, status) DO UPDATE SET lease_expiries = excluded.lease_expiries;
    RETURN (SELECT count(*) FROM phoenix.task_counts);
END $$;

-- Folds the deltas into task_counts; the beat's `task_counts` job. Two beats are harmless: DELETE
-- ... RETURNING hands each delta row to one of them.
CREATE FUNCTION phoenix.task_counts_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM phoenix.task_count_deltas RETURNING team, status, tasks, attempts, lease_expiries
    ), summed AS (
        SELECT team, status, sum(tasks) AS tasks, sum(attempts) AS attempts, sum(lease_expiries) AS lease_expiries,
               count(*) AS n
          FROM taken GROUP BY team, status
    ), applied AS (
        INSERT INTO phoenix.task_counts AS c (team, status, tasks, attempts, lease_expiries)
        SELECT team, status, tasks, attempts, lease_expiries FROM summed
        ON CONFLICT (team, status) DO UPDATE
           SET tasks = c.tasks + excluded.tasks, attempts = c.attempts + excluded.attempts,
               lease_expiries = c.lease_expiries + excluded.lease_expiries
        RETURNING 1
    )
    SELECT coalesce(sum(n), 0) INTO folded FROM summed;
    RETURN folded;
END $$;

CREATE TRIGGER task_counts_insert AFTER INSERT ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.task_counts_on_change();
CREATE TRIGGER task_counts_update AFTER UPDATE ON phoenix.tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.attempt IS DISTINCT FROM NEW.attempt
                       OR OLD.team IS DISTINCT FROM NEW.team)
    EXECUTE FUNCTION phoenix.task_counts_on_change();
CREATE TRIGGER task_counts_delete AFTER DELETE ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.task_counts_on_change();
CREATE TRIGGER task_counts_event AFTER INSERT ON phoenix.task_events
    FOR EACH ROW WHEN (NEW.kind = 'lease_expired') EXECUTE FUNCTION phoenix.task_counts_on_lease_expired();

SELECT phoenix.task_counts_rebuild();
