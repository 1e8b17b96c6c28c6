-- Delegation (docs/concepts/delegation.md): splitting a task into children, cancelling subtrees, and
-- reading a task's children and tree.

-- name: task_delegate
-- The claimant splits its task into children and the task waits for them (docs/concepts/delegation.md).
SELECT (d.task).*, d.children, d.created
  FROM phoenix.task_delegate(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(children)s::jsonb,
                             %(join_k)s::integer, %(on_failure)s::text, %(now)s::timestamptz) AS d;

-- name: task_cancel
-- Cancels a task and its live descendants; `cancelled` counts them.
SELECT (c.task).*, c.cancelled
  FROM phoenix.task_cancel(%(task)s::uuid, %(agent)s::uuid, %(reason)s::text, %(now)s::timestamptz) AS c;

-- name: task_children
-- A task's children and their outcomes, in the order they were asked for.
SELECT * FROM phoenix.task_children(%(task)s::uuid, %(agent)s::uuid);

-- name: task_tree
-- A task and all its descendants, depth first, with who worked and who delegated each.
WITH RECURSIVE tree AS (
    SELECT t.id, 0 AS level, ARRAY[t.created_at::text || t.id::text] AS path FROM phoenix.tasks t WHERE t.id = %(task)s::uuid
    UNION ALL
    SELECT c.id, tree.level + 1, tree.path || (c.created_at::text || coalesce(lpad(c.child_key, 10, '0'), '') || c.id::text)
      FROM phoenix.tasks c JOIN tree ON c.parent_id = tree.id
)
SELECT t.id, t.parent_id, tree.level, t.title, t.category, t.status::text AS status, t.attempt, t.child_key,
       t.children_total, t.children_done, t.children_failed, t.join_k, t.on_child_failure,
       w.codename AS agent, d.codename AS delegated_by, e.codename AS escalated_to
  FROM tree
  JOIN phoenix.tasks t USING (id)
  LEFT JOIN phoenix.agents w ON w.id = t.assigned_to
  LEFT JOIN phoenix.agents d ON d.id = t.delegated_by
  LEFT JOIN phoenix.agents e ON e.id = t.escalated_to
 ORDER BY tree.path;
