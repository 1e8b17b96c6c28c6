-- Retry and bulk operations on tasks (docs/operations/retry.md), as board/retry.py calls them.
-- The bulk filter: every condition optional, `(%(x)s IS NULL OR ...)`; statuses as a list; the
-- reason a LIKE pattern on last_error, case-insensitive. Bulk retry takes only roots (a child is
-- retried with its tree). Selections go by id after a cursor, so a long run sees each task once.

-- name: task_retry
-- Back on the board with a fresh attempt budget, with its tree's failed tasks and its revived dependents.
SELECT (r.task).*, r.retried, r.revived
  FROM phoenix.task_retry(%(task)s::uuid, %(reason)s::text, %(now)s::timestamptz) AS r;

-- name: tasks_bulk_count
-- How many tasks the filter matches (a dry run, and the progress bar's total).
SELECT count(*)::bigint AS n
  FROM phoenix.tasks t
 WHERE t.status::text = ANY (%(statuses)s::text[])
   AND (NOT %(roots)s::boolean OR t.parent_id IS NULL)
   AND (%(team)s::text IS NULL OR t.team = %(team)s::text)
   AND (%(category)s::text IS NULL OR t.category = %(category)s::text)
   AND (%(since)s::timestamptz IS NULL OR coalesce(t.completed_at, t.created_at) >= %(since)s::timestamptz)
   AND (%(reason_like)s::text IS NULL OR t.last_error ILIKE %(reason_like)s::text);

-- name: tasks_bulk_select
-- The next batch of matching task ids after the cursor, in id order.
SELECT t.id
  FROM phoenix.tasks t
 WHERE t.status::text = ANY (%(statuses)s::text[])
   AND (NOT %(roots)s::boolean OR t.parent_id IS NULL)
   AND (%(team)s::text IS NULL OR t.team = %(team)s::text)
   AND (%(category)s::text IS NULL OR t.category = %(category)s::text)
   AND (%(since)s::timestamptz IS NULL OR coalesce(t.completed_at, t.created_at) >= %(since)s::timestamptz)
   AND (%(reason_like)s::text IS NULL OR t.last_error ILIKE %(reason_like)s::text)
   AND t.id > %(after)s::uuid
 ORDER BY t.id
 LIMIT %(batch)s::integer;
