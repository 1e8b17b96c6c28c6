-- What `phoenix-board up` shows of the agents working together (docs/operations/running-agents.md).

-- name: events_summary_since
-- Tasks submitted, completed and failed for good since a time (the `up` view and summary).
SELECT count(*) FILTER (WHERE kind = 'submitted') AS submitted,
       count(*) FILTER (WHERE kind = 'completed') AS completed,
       count(*) FILTER (WHERE kind = 'dependency_failed'
                        OR (kind IN ('failed', 'lease_expired', 'rejected', 'released') AND (detail ->> 'final')::boolean))
           AS failed
  FROM phoenix.task_events WHERE at >= %(since)s::timestamptz;

-- name: together_since
-- How much the agents worked together since a time: delegations (tasks that split), the children
-- they created, and hormone cascades that reached at least one agent.
SELECT (SELECT count(*) FROM phoenix.task_events WHERE kind = 'delegated' AND at >= %(since)s::timestamptz) AS delegations,
       (SELECT count(*) FROM phoenix.tasks WHERE parent_id IS NOT NULL AND created_at >= %(since)s::timestamptz) AS children,
       (SELECT count(DISTINCT hormone_exchange ->> 'cascade_id') FROM phoenix.agent_interactions
         WHERE interaction_type = 'sync' AND at >= %(since)s::timestamptz) AS cascades;

-- name: delegation_latest_root
-- The root of the most recent delegation tree since a time.
SELECT id FROM phoenix.tasks
 WHERE parent_id IS NULL AND children_total > 0 AND created_at >= %(since)s::timestamptz
 ORDER BY created_at DESC LIMIT 1;

-- name: delegation_edges
-- Who delegated to whom since a time: a delegator, an agent that worked one of its children, how
-- many children, and how many of them completed.
SELECT d.codename AS delegator, w.codename AS worker, count(*) AS children,
       count(*) FILTER (WHERE c.status = 'complete') AS completed
  FROM phoenix.tasks c
  JOIN phoenix.tasks p ON p.id = c.parent_id
  JOIN phoenix.agents d ON d.id = p.delegated_by
  JOIN phoenix.agents w ON w.id = c.assigned_to
 WHERE c.parent_id IS NOT NULL AND c.created_at >= %(since)s::timestamptz
 GROUP BY d.codename, w.codename
 ORDER BY count(*) DESC, d.codename, w.codename
 LIMIT %(limit)s::integer;

-- name: cascades_recent
-- The latest hormone cascades since a time: hormone, edges (sync rows), agents reached, how far.
SELECT i.hormone_exchange ->> 'cascade_id' AS cascade, i.hormone_exchange ->> 'hormone' AS hormone,
       count(*) AS edges, count(DISTINCT i.agent_to) AS reached,
       max((i.hormone_exchange ->> 'hop')::integer) AS hops, max(i.at) AS at
  FROM phoenix.agent_interactions i
 WHERE i.interaction_type = 'sync' AND i.at >= %(since)s::timestamptz
 GROUP BY 1, 2
 ORDER BY max(i.at) DESC
 LIMIT %(limit)s::integer;
