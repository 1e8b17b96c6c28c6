-- Hardening (issue 12; README "Task lifecycle", "Errors and limits", "Dependencies").

-- Idempotency keys belong to their submitter (created_by; the submissions that name no agent share
-- one scope): another submitter's key is another task, never a silent duplicate of it.
DROP INDEX phoenix.tasks_idempotency_key_idx;
-- task_submit: resubmitting with the same key returns the existing task, per submitter
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON phoenix.tasks (created_by, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;
-- status(key) and the fault tests find a task by its key alone
CREATE INDEX tasks_key_idx ON phoenix.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
