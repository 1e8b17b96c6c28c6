-- Reviews are work on the board (README "Review"): a task in review offers review_quorum places,
-- which live eligible agents claim with a lease, as they claim tasks. A verdict that is never
-- given frees its place when the lease runs out, and another agent takes it; nothing depends on
-- a message that can be lost.

-- When the current attempt went to review: the reviewer pool widens, and an unreviewed task
-- ends, at fixed delays from here (REVIEW_WIDEN_SECONDS, REVIEW_EXPIRE_SECONDS).
ALTER TABLE phoenix.tasks ADD COLUMN review_since timestamptz;
UPDATE phoenix.tasks t
   SET review_since = coalesce((SELECT max(e.at) FROM phoenix.task_events e
                                 WHERE e.task_id = t.id AND e.kind = 'submitted_for_review'), now())
 WHERE t.status = 'review';
-- the review claim, the stalled-review gauge and the review deadline read tasks in review by age
CREATE INDEX tasks_review_idx ON phoenix.tasks (review_since, id) WHERE status = 'review';

-- One row per place taken: who took it for which attempt, until when. A verdict removes its row;
-- an expired row is a free place (no sweeper needed).
CREATE TABLE phoenix.review_assignments (
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    attempt integer NOT NULL,
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    assigned_at timestamptz NOT NULL,
    lease_expires_at timestamptz NOT NULL,
    PRIMARY KEY (task_id, attempt, agent_id)
);
