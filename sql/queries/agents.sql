-- Agents (docs/operations/running-agents.md; what moves them: docs/concepts/hormones.md): registration, liveness and the hold of a pool process, reads of one
-- agent and its record, and its state: Fibonacci level, hormone decay, trust history.

-- name: agent_register
-- Register or re-attach by codename; `created` tells which.
SELECT (r.agent).*, r.created
  FROM phoenix.agent_register(%(codename)s::text, %(team)s::text, %(role)s::text, %(specialization)s::text[],
                              %(holder)s::uuid, %(now)s::timestamptz) AS r;

-- name: agent_heartbeat
-- The agent is alive.
SELECT * FROM phoenix.agent_heartbeat(%(agent)s::uuid, %(holder)s::uuid, %(now)s::timestamptz);

-- name: agents_heartbeat
-- A thread pool's agents are alive, in one statement; the rows are the agents it could not renew.
SELECT agent FROM phoenix.agents_heartbeat(%(agents)s::uuid[], %(holder)s::uuid) AS agent;

-- name: agent_release
-- A clean exit frees the agent's hold (only the holder's token does).
SELECT phoenix.agent_release(%(agent)s::uuid, %(holder)s::uuid) AS released;

-- name: agent_decommission
-- Out of service; a live claim goes back to the board.
SELECT * FROM phoenix.agent_decommission(%(agent)s::uuid, %(now)s::timestamptz);

-- name: agents_held_by_others
-- Which of these codenames a pool may not attach to: held by another live process (a hold lapses
-- ACTIVE_AGENT_SECONDS after the last heartbeat), or decommissioned (only the operator brings an
-- agent back); a pool checks its names with it before it starts.
SELECT codename, extract(epoch FROM now() - last_heartbeat)::float8 AS seconds_ago,
       decommissioned_at IS NOT NULL AS decommissioned
  FROM phoenix.agents
 WHERE codename = ANY (%(codenames)s::text[])
   AND (decommissioned_at IS NOT NULL
        OR (holder IS NOT NULL AND holder <> %(holder)s::uuid
            AND last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())))
 ORDER BY codename;

-- name: agent_get
-- One agent by id (agents_seen: current_task only when the reader may see that task).
SELECT * FROM phoenix.agents_seen WHERE id = %(agent)s::uuid;

-- name: agent_by_codename
-- One agent by codename.
SELECT * FROM phoenix.agents_seen WHERE codename = %(codename)s::text;

-- name: agents_list
-- Agents (or members: kind), by team then codename; decommissioned ones only when asked.
SELECT * FROM phoenix.agents_seen
 WHERE (%(team)s::text IS NULL OR team = %(team)s::text)
   AND kind = %(kind)s::text
   AND (%(all)s::boolean OR decommissioned_at IS NULL)
 ORDER BY team, codename
 LIMIT %(limit)s::integer;

-- name: agent_tasks_recent
-- The tasks an agent worked lately (newest first), each with its current status and how this
-- agent's last event on it went (claimed, started, completed, failed, lease_expired, ...).
SELECT * FROM (
    SELECT DISTINCT ON (e.task_id) e.task_id AS id, t.title, t.status::text AS status, e.kind AS last_event,
           e.attempt, e.at
      FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
     WHERE e.agent_id = %(agent)s::uuid
     ORDER BY e.task_id, e.at DESC
) latest
 ORDER BY at DESC
 LIMIT %(limit)s::integer;

-- name: agent_task_counts
-- How many attempts an agent claimed, and how they ended, from the task history.
SELECT count(*) FILTER (WHERE kind = 'claimed') AS claimed,
       count(*) FILTER (WHERE kind = 'completed') AS completed,
       count(*) FILTER (WHERE kind IN ('failed', 'lease_expired', 'rejected', 'released')) AS failed
  FROM phoenix.task_events
 WHERE agent_id = %(agent)s::uuid;

-- name: agent_interactions_for
-- The latest interactions that changed this agent's trust or hormones.
SELECT i.id, i.agent_from, f.codename AS from_codename, i.interaction_type, i.task_id, i.trust_delta,
       i.hormone_exchange, i.success, i.metadata, i.at
  FROM phoenix.agent_interactions i LEFT JOIN phoenix.agents f ON f.id = i.agent_from
 WHERE i.agent_to = %(agent)s::uuid ORDER BY i.seq DESC LIMIT %(limit)s::integer;

-- name: fibonacci_level
-- The Fibonacci level for a count of completed tasks.
SELECT phoenix.fibonacci_level(%(completed)s::integer) AS level;

-- name: hormones_decay_all
-- Decay every active agent's hormones toward baseline up to now; returns the count.
SELECT phoenix.hormones_decay_all(%(half_life)s::float8, %(now)s::timestamptz) AS n;

-- name: agents_decommission_stale
-- The beat's automatic decommission: agents silent for longer than the setting; their ids.
SELECT * FROM phoenix.agents_decommission_stale(%(after)s::float8, %(limit)s::integer, %(now)s::timestamptz);
