-- Hardening (issue 12; README "Task lifecycle", "Errors and limits", "Dependencies").

-- Idempotency keys belong to their submitter (created_by; the submissions that name no agent share
-- one scope): another submitter's key is another task, never a silent duplicate of it.
DROP INDEX phoenix.tasks_idempotency_key_idx;
-- task_submit: resubmitting with the same key returns the existing task, per submitter
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON phoenix.tasks (created_by, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;
-- status(key) and the fault tests find a task by its key alone
CREATE INDEX tasks_key_idx ON phoenix.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Dependency links in a table of their own (README "Task lifecycle", dependencies). The dependency's
-- `blocks` array was rewritten by every submission that named it, so the n-th dependent of one task
-- copied an array of n ids: 10,000 dependents took a minute, growing with the square of their
-- number. A row per link costs the same at any count. `depends_on` stays on the dependent (written
-- once, at most DEPENDS_ON_MAX ids); the table is what the other direction reads.
CREATE TABLE phoenix.task_dependencies (
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    depends_on uuid NOT NULL REFERENCES phoenix.tasks (id),
    PRIMARY KEY (task_id, depends_on)
);
-- task_completed, task_fail_dependents and show: the dependents of a task, in id order
CREATE INDEX task_dependencies_depends_on_idx ON phoenix.task_dependencies (depends_on, task_id);
INSERT INTO phoenix.task_dependencies (task_id, depends_on)
SELECT t.id, d FROM phoenix.tasks t, unnest(t.depends_on) AS d ORDER BY 1, 2
    ON CONFLICT DO NOTHING;

-- Rows written before the limits were enforced in the database (sql/functions/06_task_limits.sql):
-- a deadline past year 9999 in UTC cannot be read back, so it is cleared; a payload past the limits
-- (an object, 4 MiB as stored, 32 levels, as constants.py had them when this was written) makes agents fail
-- on it until its attempts run out. A task not yet worked with either fails for good now, with
-- the reason, instead of being claimed again and again.
CREATE TEMP TABLE unloadable ON COMMIT DROP AS
WITH RECURSIVE live AS (
    SELECT id, payload FROM phoenix.tasks WHERE status IN ('open', 'claimed', 'in_progress')
), walk (id, doc, depth) AS (
    SELECT id, payload, 1 FROM live WHERE jsonb_typeof(payload) IN ('object', 'array')
    UNION ALL
    SELECT w.id, e.v, w.depth + 1
      FROM walk w,
           LATERAL (SELECT value FROM jsonb_each(CASE WHEN jsonb_typeof(w.doc) = 'object' THEN w.doc END)
                    UNION ALL
                    SELECT value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.doc) = 'array' THEN w.doc END)) AS e (v)
     WHERE jsonb_typeof(e.v) IN ('object', 'array') AND w.depth <= 32
)
SELECT id, 'its deadline is past year 9999 in UTC, which cannot be read back' AS reason
  FROM phoenix.tasks WHERE status IN ('open', 'claimed', 'in_progress') AND deadline >= '9999-01-01T00:00:00Z'
UNION
SELECT id, 'its payload is over 4194304 bytes as stored' FROM live WHERE octet_length(payload::text) > 4194304
UNION
SELECT DISTINCT id, 'its payload nests more than 32 levels' FROM walk WHERE depth > 32
UNION
SELECT id, 'its payload is not a JSON object' FROM live WHERE jsonb_typeof(payload) <> 'object';

UPDATE phoenix.agents a SET current_task = NULL, idle_since = now()
  FROM unloadable u WHERE a.current_task = u.id;
WITH failed AS (
    UPDATE phoenix.tasks t
       SET status = 'failed', completed_at = now(), lease_expires_at = NULL,
           last_error = format('cannot be loaded: %s', u.reason)
      FROM (SELECT DISTINCT ON (id) id, reason FROM unloadable ORDER BY id, reason) AS u
     WHERE t.id = u.id
    RETURNING t.id, t.attempt, t.assigned_to, t.last_error
)
INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
SELECT id, 'failed', assigned_to, attempt, now(), jsonb_build_object('reason', last_error, 'final', true) FROM failed;
-- their open dependents could never run either (as phoenix.task_fail_dependents does it, written
-- out here because the functions are applied after the migrations)
WITH RECURSIVE dependents (id, via) AS (
    SELECT l.task_id, l.depends_on FROM phoenix.task_dependencies l WHERE l.depends_on IN (SELECT id FROM unloadable)
    UNION
    SELECT l.task_id, l.depends_on FROM phoenix.task_dependencies l JOIN dependents d ON l.depends_on = d.id
), failed AS (
    UPDATE phoenix.tasks t
       SET status = 'failed', completed_at = now(), last_error = format('dependency %s failed', h.via)
      FROM (SELECT id, min(via::text)::uuid AS via FROM dependents GROUP BY id) AS h
     WHERE t.id = h.id AND t.status = 'open'
    RETURNING t.id, t.attempt, h.via
)
INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
SELECT id, 'dependency_failed', NULL, attempt, now(), jsonb_build_object('dependency', via, 'ended', 'failed') FROM failed;
UPDATE phoenix.tasks SET deadline = NULL WHERE deadline >= '9999-01-01T00:00:00Z';

-- last: the functions installed until the new ones are applied still read it
ALTER TABLE phoenix.tasks DROP COLUMN blocks;
