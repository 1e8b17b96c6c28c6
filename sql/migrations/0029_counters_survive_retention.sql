-- The exporter's task counters (phoenix_tasks_created_total, _completed_total, _failed_total,
-- phoenix_claims_total) were the kept counts of the tasks on the board, so retention, which deletes
-- finished tasks, took them down: Prometheus reads a counter that goes down as a restart from zero,
-- so after each prune increase() over the window counted the whole remaining total again and the
-- failure-rate alerts could fire on a quiet team. A deletion now moves the task out of its status's
-- count (`tasks`, `attempts`: the board's figures, which do shrink) into `pruned` and
-- `pruned_attempts` (which never do); the counters are the sum of both (sql/queries/metrics.sql).
ALTER TABLE phoenix.task_count_deltas
    ADD COLUMN pruned bigint NOT NULL DEFAULT 0,
    ADD COLUMN pruned_attempts bigint NOT NULL DEFAULT 0;
ALTER TABLE phoenix.task_counts
    ADD COLUMN pruned bigint NOT NULL DEFAULT 0,
    ADD COLUMN pruned_attempts bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW phoenix.task_count_changes AS
SELECT team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts FROM phoenix.task_count_deltas
UNION ALL
SELECT team, from_status, -tasks, -from_attempts, 0, 0, 0 FROM phoenix.task_count_deltas WHERE from_status IS NOT NULL;

CREATE OR REPLACE FUNCTION phoenix.task_counts_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.team = NEW.team THEN
        -- a move within the team: one row for both sides
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries, from_status, from_attempts)
        VALUES (NEW.team, NEW.status, 1, NEW.attempt, 0, OLD.status, OLD.attempt);
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- retention: off the board, still counted as ever created, ended and claimed
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts)
        VALUES (OLD.team, OLD.status, -1, -OLD.attempt, 0, 1, OLD.attempt);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
        VALUES (OLD.team, OLD.status, -1, -OLD.attempt, 0);
    END IF;
    INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries)
    VALUES (NEW.team, NEW.status, 1, NEW.attempt, 0);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION phoenix.task_counts_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM phoenix.task_count_deltas
        RETURNING team, status, tasks, attempts, lease_expiries, from_status, from_attempts, pruned, pruned_attempts
    ), sides AS (
        SELECT team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts, 1 AS n FROM taken
        UNION ALL
        SELECT team, from_status, -tasks, -from_attempts, 0, 0, 0, 0 FROM taken WHERE from_status IS NOT NULL
    ), summed AS (
        SELECT team, status, sum(tasks) AS tasks, sum(attempts) AS attempts, sum(lease_expiries) AS lease_expiries,
               sum(pruned) AS pruned, sum(pruned_attempts) AS pruned_attempts, sum(n) AS n
          FROM sides GROUP BY team, status
    ), applied AS (
        INSERT INTO phoenix.task_counts AS c (team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts)
        SELECT team, status, tasks, attempts, lease_expiries, pruned, pruned_attempts FROM summed
        ON CONFLICT (team, status) DO UPDATE
           SET tasks = c.tasks + excluded.tasks, attempts = c.attempts + excluded.attempts,
               lease_expiries = c.lease_expiries + excluded.lease_expiries,
               pruned = c.pruned + excluded.pruned, pruned_attempts = c.pruned_attempts + excluded.pruned_attempts
        RETURNING 1
    )
    SELECT coalesce(sum(n), 0) INTO folded FROM summed;
    RETURN folded;
END $$;

-- The full recount counts the tasks on the board; what retention took off it stays counted (the
-- pruned columns are kept, folded with any deltas not yet folded), and lease expiries keep
-- whichever is larger: the kept count, or the expiries whose events are still there.
CREATE OR REPLACE FUNCTION phoenix.task_counts_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_kept jsonb;
BEGIN
    LOCK TABLE phoenix.tasks IN SHARE MODE;
    LOCK TABLE phoenix.task_events IN SHARE MODE;
    PERFORM phoenix.task_counts_fold();
    SELECT coalesce(jsonb_agg(jsonb_build_object('team', team, 'status', status, 'pruned', pruned,
                                                 'pruned_attempts', pruned_attempts, 'lease_expiries', lease_expiries)),
                    '[]')
      INTO v_kept FROM phoenix.task_counts;
    DELETE FROM phoenix.task_counts;
    INSERT INTO phoenix.task_counts (team, status, tasks, attempts, lease_expiries)
    SELECT team, status, count(*), coalesce(sum(attempt), 0), 0 FROM phoenix.tasks GROUP BY team, status;
    INSERT INTO phoenix.task_counts AS c (team, status, lease_expiries)
    SELECT t.team, 'open', count(*) FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
     WHERE e.kind = 'lease_expired' GROUP BY t.team
    ON CONFLICT (team, status) DO UPDATE SET lease_expiries = excluded.lease_expiries;
    INSERT INTO phoenix.task_counts AS c (team, status, pruned, pruned_attempts, lease_expiries)
    SELECT k.team, k.status, k.pruned, k.pruned_attempts, k.lease_expiries
      FROM jsonb_to_recordset(v_kept) AS k(team text, status phoenix.task_status, pruned bigint,
                                            pruned_attempts bigint, lease_expiries bigint)
    ON CONFLICT (team, status) DO UPDATE
       SET pruned = excluded.pruned, pruned_attempts = excluded.pruned_attempts,
           lease_expiries = greatest(c.lease_expiries, excluded.lease_expiries);
    RETURN (SELECT count(*) FROM phoenix.task_counts);
END $$;
