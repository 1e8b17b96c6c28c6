-- Delegation (README "Delegation"): a task splits into children and waits for them.
--
-- A parent in 'waiting' holds no lease and no agent; the parent row is the join point: each
-- child's final outcome counts on it under its row lock, so exactly one child's transaction sees
-- the join satisfied and puts the parent back on the board. 'cancelled' ends a task for good.
-- The new enum values are used only by the functions, which are applied after this migration
-- commits (a value added by ALTER TYPE cannot be used in the transaction that adds it).
ALTER TYPE phoenix.task_status ADD VALUE IF NOT EXISTS 'waiting';
ALTER TYPE phoenix.task_status ADD VALUE IF NOT EXISTS 'cancelled';

ALTER TABLE phoenix.tasks
    -- the tree: parent, root (NULL on a root) and depth are fixed when the child is created
    ADD COLUMN parent_id uuid REFERENCES phoenix.tasks (id),
    ADD COLUMN root_id uuid REFERENCES phoenix.tasks (id),
    ADD COLUMN depth smallint NOT NULL DEFAULT 0 CONSTRAINT tasks_depth_range CHECK (depth BETWEEN 0 AND 100),
    ADD COLUMN child_key text CONSTRAINT tasks_child_key_length CHECK (length(child_key) BETWEEN 1 AND 200),
    -- the join of the current delegation: join_k of children_total must complete
    ADD COLUMN delegated_by uuid REFERENCES phoenix.agents (id),
    ADD COLUMN join_k integer CONSTRAINT tasks_join_k_range CHECK (join_k >= 1),
    ADD COLUMN on_child_failure text CONSTRAINT tasks_on_child_failure CHECK (on_child_failure IN ('fail', 'ignore')),
    ADD COLUMN children_total integer NOT NULL DEFAULT 0 CHECK (children_total >= 0),
    ADD COLUMN children_done integer NOT NULL DEFAULT 0 CHECK (children_done >= 0),
    ADD COLUMN children_failed integer NOT NULL DEFAULT 0 CHECK (children_failed >= 0),
    -- on a root: every descendant ever created under it, counted against DELEGATION_DESCENDANTS_MAX
    ADD COLUMN descendants integer NOT NULL DEFAULT 0 CHECK (descendants >= 0),
    -- offered first to these agents until preferred_until (subordinates, the delegator, a supervisor)
    ADD COLUMN preferred_agents uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN preferred_until timestamptz,
    -- the supervisor a failed child was escalated to (once per parent)
    ADD COLUMN escalated_to uuid REFERENCES phoenix.agents (id),
    ADD CONSTRAINT tasks_tree_consistent CHECK ((parent_id IS NULL) = (root_id IS NULL) AND (parent_id IS NULL) = (depth = 0)),
    ADD CONSTRAINT tasks_child_has_key CHECK ((parent_id IS NULL) = (child_key IS NULL)),
    ADD CONSTRAINT tasks_join_counts CHECK (children_done + children_failed <= children_total);

-- a retried delegation with the same key finds the child it created before
CREATE UNIQUE INDEX tasks_child_key_idx ON phoenix.tasks (parent_id, child_key) WHERE parent_id IS NOT NULL;
-- the children of a task (the join's cancel, task_children, show --tree)
CREATE INDEX tasks_parent_idx ON phoenix.tasks (parent_id, id) WHERE parent_id IS NOT NULL;
