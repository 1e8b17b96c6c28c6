-- The beat's own records (docs/concepts/beat.md): one runner per job at a time, and what each run did.

-- name: beat_try_lock
-- Take the job's advisory lock if free (a second beat running the same job skips it).
SELECT pg_try_advisory_lock(%(key)s::bigint) AS locked;

-- name: beat_unlock
-- Release the job's advisory lock.
SELECT pg_advisory_unlock(%(key)s::bigint) AS unlocked;

-- name: beat_record
-- Record one run of a job: its duration, its result or its error.
INSERT INTO phoenix.beat_runs AS b (job, runs, last_started_at, last_success_at, last_duration_ms, last_result, last_error)
VALUES (%(job)s::text, 1, %(started)s::timestamptz, CASE WHEN %(error)s::text IS NULL THEN %(finished)s::timestamptz END,
        %(ms)s::float8, %(result)s::bigint, %(error)s::text)
ON CONFLICT (job) DO UPDATE
   SET runs = b.runs + 1, last_started_at = excluded.last_started_at,
       last_success_at = coalesce(excluded.last_success_at, b.last_success_at),
       last_duration_ms = excluded.last_duration_ms,
       last_result = coalesce(excluded.last_result, b.last_result), last_error = excluded.last_error;

-- name: beat_runs
-- Every job's last run.
SELECT job, runs, last_started_at, last_success_at, last_duration_ms, last_result, last_error
  FROM phoenix.beat_runs ORDER BY job;
