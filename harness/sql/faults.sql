-- Statements of `phoenix-board bench faults` (workers/faults.py) and tests/faults. They read a
-- scratch board that holds only the fault run's own tasks; nothing here writes.

-- name: faults_by_status
-- Tasks on the board by status.
SELECT status::text AS status, count(*) AS n FROM phoenix.tasks GROUP BY status;

-- name: faults_unsettled
-- Tasks still on their way: neither complete nor failed for good.
SELECT count(*) AS n FROM phoenix.tasks WHERE status NOT IN ('complete', 'failed');

-- name: faults_open_backlog
-- Open tasks of a team (claimable now or in backoff): the feeder keeps this above the agents' count.
SELECT count(*) AS n FROM phoenix.tasks WHERE team = %(team)s::text AND status = 'open';

-- name: faults_keys
-- Every idempotency key on the board, to find submissions that never arrived.
SELECT idempotency_key AS key FROM phoenix.tasks WHERE idempotency_key IS NOT NULL;

-- name: faults_completions
-- Completed events per task: more than one would be a duplicated completion.
SELECT task_id::text AS task, count(*) AS n, max(attempt) AS attempt
  FROM phoenix.task_events WHERE kind = 'completed' GROUP BY task_id;

-- name: faults_completed_since
-- Completions after an event id, oldest first: the harness kills a process right after its result.
SELECT id, task_id::text AS task, attempt FROM phoenix.task_events
 WHERE kind = 'completed' AND id > %(after)s::bigint ORDER BY id;

-- name: faults_last_event_id
SELECT coalesce(max(id), 0) AS id FROM phoenix.task_events;

-- name: faults_held
-- The live claims of an agent (by codename): what a process held when it was killed.
SELECT t.id::text AS task, t.attempt FROM phoenix.tasks t JOIN phoenix.agents a ON a.id = t.assigned_to
 WHERE a.codename = %(codename)s::text AND t.status IN ('claimed', 'in_progress');

-- name: faults_attempt_end
-- How an attempt ended and when its task could be claimed again (retry_at after a failure).
SELECT kind, at, coalesce((detail->>'retry_at')::timestamptz, at) AS claimable_at
  FROM phoenix.task_events
 WHERE task_id = %(task)s::uuid AND attempt = %(attempt)s::integer
   AND kind IN ('failed', 'lease_expired', 'rejected', 'completed', 'submitted_for_review')
 ORDER BY id LIMIT 1;

-- name: faults_next_claim
-- The first claim of a later attempt of a task.
SELECT at FROM phoenix.task_events
 WHERE task_id = %(task)s::uuid AND kind = 'claimed' AND attempt > %(attempt)s::integer
 ORDER BY id LIMIT 1;

-- name: faults_dead_tuples
-- Dead row versions of the tasks table as the statistics last counted them (VACUUM sets them).
SELECT n_dead_tup AS n, n_live_tup AS live FROM pg_stat_user_tables
 WHERE schemaname = 'phoenix' AND relname = 'tasks';

-- name: faults_vacuum_tasks
-- VACUUM cannot run inside a transaction: the harness runs it on an autocommit connection.
VACUUM phoenix.tasks;

-- name: faults_hold_read
-- The reader that holds back vacuum runs this first in a REPEATABLE READ transaction: the snapshot
-- it takes stays until the transaction ends, so no row version it could see may be removed.
SELECT count(*) AS n FROM phoenix.tasks;

-- name: faults_xmin_age
-- How far back the oldest snapshot in this database holds the horizon, in transactions.
SELECT coalesce(max(age(backend_xmin)), 0) AS age FROM pg_stat_activity
 WHERE datname = current_database() AND backend_xmin IS NOT NULL;
