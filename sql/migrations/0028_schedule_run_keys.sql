-- A manual run of a schedule (`schedules run-now --key`, runScheduleNow(idempotencyKey)) may carry
-- the caller's key: a request retried after its reply was lost finds the run it made and submits
-- nothing more, as createTask's idempotency key does for tasks. Cron runs carry none (their slot
-- is their key). phoenix.schedule_fire takes the key, so its old signature goes
-- (sql/functions/62_schedules.sql defines the new one).
ALTER TABLE phoenix.schedule_runs
    ADD COLUMN key text CONSTRAINT schedule_runs_key_length CHECK (char_length(key) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX schedule_runs_key_idx ON phoenix.schedule_runs (schedule_id, key) WHERE key IS NOT NULL;
DROP FUNCTION IF EXISTS phoenix.schedule_fire(uuid, text, timestamptz, timestamptz);
