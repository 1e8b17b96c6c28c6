-- Statements on phoenix.task_events (append-only).

-- name: task_events_for
-- One task's history in order.
SELECT e.id, e.kind, e.agent_id, a.codename, e.attempt, e.at, e.detail
  FROM phoenix.task_events e LEFT JOIN phoenix.agents a ON a.id = e.agent_id
 WHERE e.task_id = %(task)s::uuid ORDER BY e.id;

-- name: task_events_count
-- How many events of a kind (all kinds when NULL) since a time.
SELECT count(*) AS n FROM phoenix.task_events
 WHERE (%(kind)s::text IS NULL OR kind = %(kind)s::text) AND at >= %(since)s::timestamptz;
