-- Statements on phoenix.task_events (append-only).

-- name: task_events_for
-- One task's history in order.
SELECT e.id, e.seq, e.kind, e.agent_id, a.codename, e.attempt, e.at, e.detail
  FROM phoenix.task_events e LEFT JOIN phoenix.agents a ON a.id = e.agent_id
 WHERE e.task_id = %(task)s::uuid ORDER BY e.seq;

-- name: events_summary_since
-- Tasks submitted, completed and failed for good since a time (the `up` view and summary).
SELECT count(*) FILTER (WHERE kind = 'submitted') AS submitted,
       count(*) FILTER (WHERE kind = 'completed') AS completed,
       count(*) FILTER (WHERE kind = 'dependency_failed'
                        OR (kind IN ('failed', 'lease_expired', 'rejected', 'released') AND (detail ->> 'final')::boolean))
           AS failed
  FROM phoenix.task_events WHERE at >= %(since)s::timestamptz;
