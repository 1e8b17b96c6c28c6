-- Less written per task (issue 18, item 2; docs/costs.md has the figures).
--
-- The kept task counts (0011) took two delta rows per status change: the old status's -1 and the
-- new one's +1, about 95 bytes of WAL each. One row now carries both sides of a move: `status`,
-- `tasks`, `attempts` and `lease_expiries` are what the new status gains, as before, and
-- `from_status`, `from_attempts` what the old one loses (its task count loses `tasks`). A
-- submission, a deletion, a lease expiry and the rare move between teams have no from side and
-- write the rows they wrote before. The readers read phoenix.task_count_changes, which unfolds each
-- row into the signed rows the table used to hold, so the sums they take are unchanged.
ALTER TABLE phoenix.task_count_deltas
    ADD COLUMN from_status phoenix.task_status,
    ADD COLUMN from_attempts bigint,
    ADD CONSTRAINT task_count_deltas_from CHECK ((from_status IS NULL) = (from_attempts IS NULL));

-- One signed row per (team, status) side of each delta: what the exporter, the teams overview, the
-- console and the fold sum.
CREATE VIEW phoenix.task_count_changes AS
SELECT team, status, tasks, attempts, lease_expiries FROM phoenix.task_count_deltas
UNION ALL
SELECT team, from_status, -tasks, -from_attempts, 0 FROM phoenix.task_count_deltas WHERE from_status IS NOT NULL;

CREATE OR REPLACE FUNCTION phoenix.task_counts_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.team = NEW.team THEN
        -- a move within the team: one row for both sides
        INSERT INTO phoenix.task_count_deltas (team, status, tasks, attempts, lease_expiries, from_status, from_attempts)
        VALUES (NEW.team, NEW.status, 1, NEW.attempt, 0, OLD.status, OLD.attempt);
        RETURN NULL;
    END IF;
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

-- The fold takes each delta row whole (DELETE ... RETURNING hands it to one of two beats) and sums
-- both of its sides.
CREATE OR REPLACE FUNCTION phoenix.task_counts_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM phoenix.task_count_deltas
        RETURNING team, status, tasks, attempts, lease_expiries, from_status, from_attempts
    ), sides AS (
        SELECT team, status, tasks, attempts, lease_expiries, 1 AS n FROM taken
        UNION ALL
        SELECT team, from_status, -tasks, -from_attempts, 0, 0 FROM taken WHERE from_status IS NOT NULL
    ), summed AS (
        SELECT team, status, sum(tasks) AS tasks, sum(attempts) AS attempts, sum(lease_expiries) AS lease_expiries,
               sum(n) AS n
          FROM sides GROUP BY team, status
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
