-- Statements on phoenix.agents and phoenix.agent_interactions.

-- name: agent_register
-- Register or re-attach by codename; `created` tells which.
SELECT (r.agent).*, r.created
  FROM phoenix.agent_register(%(codename)s::text, %(team)s::text, %(role)s::text, %(specialization)s::text[], %(now)s::timestamptz) AS r;

-- name: agent_heartbeat
-- The agent is alive.
SELECT * FROM phoenix.agent_heartbeat(%(agent)s::uuid, %(now)s::timestamptz);

-- name: agent_decommission
-- Out of service; a live claim goes back to the board.
SELECT * FROM phoenix.agent_decommission(%(agent)s::uuid, %(now)s::timestamptz);

-- name: agent_get
-- One agent by id.
SELECT * FROM phoenix.agents WHERE id = %(agent)s::uuid;

-- name: agent_by_codename
-- One agent by codename.
SELECT * FROM phoenix.agents WHERE codename = %(codename)s::text;

-- name: agents_list
-- Agents, by team then codename; decommissioned ones only when asked.
SELECT * FROM phoenix.agents
 WHERE (%(team)s::text IS NULL OR team = %(team)s::text)
   AND (%(all)s::boolean OR decommissioned_at IS NULL)
 ORDER BY team, codename
 LIMIT %(limit)s::integer;

-- name: agent_interactions_for
-- The latest interactions that changed this agent's trust or hormones.
SELECT i.id, i.agent_from, f.codename AS from_codename, i.interaction_type, i.task_id, i.trust_delta,
       i.hormone_exchange, i.success, i.metadata, i.at
  FROM phoenix.agent_interactions i LEFT JOIN phoenix.agents f ON f.id = i.agent_from
 WHERE i.agent_to = %(agent)s::uuid ORDER BY i.id DESC LIMIT %(limit)s::integer;

-- name: hormones_decay_all
-- Decay every active agent's hormones toward baseline up to now; returns the count.
SELECT phoenix.hormones_decay_all(%(half_life)s::float8, %(now)s::timestamptz) AS n;

-- name: team_exists
-- Whether a team exists.
SELECT EXISTS (SELECT 1 FROM phoenix.teams WHERE name = %(team)s::text) AS found;

-- name: teams_list
-- All teams.
SELECT name, description, created_at FROM phoenix.teams ORDER BY name;

-- name: fibonacci_level
-- The Fibonacci level for a count of completed tasks.
SELECT phoenix.fibonacci_level(%(completed)s::integer) AS level;

-- name: agents_pick_reviewers
-- Up to n live agents to review a result: never the executor; its team first, then specialists
-- of its category (the agents that may see it, README "Security"), at random.
SELECT id, team FROM phoenix.agents
 WHERE decommissioned_at IS NULL AND id <> %(exclude)s::uuid
   AND (team = %(team)s::text OR %(category)s::text = ANY (specialization))
   AND last_heartbeat > now() - interval '1 minute'
 ORDER BY (team = %(team)s::text) DESC, random()
 LIMIT %(n)s::integer;

-- name: agents_matching_category
-- Up to n live agents whose specialization includes a category (not the author).
SELECT id, team FROM phoenix.agents
 WHERE decommissioned_at IS NULL AND %(category)s::text = ANY (specialization)
   AND id IS DISTINCT FROM %(exclude)s::uuid
   AND last_heartbeat > now() - interval '1 minute'
 ORDER BY random()
 LIMIT %(n)s::integer;
