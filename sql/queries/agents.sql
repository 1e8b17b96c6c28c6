-- Statements on phoenix.agents and phoenix.agent_interactions.

-- name: agent_register
-- Register or re-attach by codename; `created` tells which.
SELECT (r.agent).*, r.created
  FROM phoenix.agent_register(%(codename)s::text, %(team)s::text, %(role)s::text, %(specialization)s::text[],
                              %(holder)s::uuid, %(now)s::timestamptz) AS r;

-- name: agent_heartbeat
-- The agent is alive.
SELECT * FROM phoenix.agent_heartbeat(%(agent)s::uuid, %(holder)s::uuid, %(now)s::timestamptz);

-- name: agent_release
-- A clean exit frees the agent's hold (only the holder's token does).
SELECT phoenix.agent_release(%(agent)s::uuid, %(holder)s::uuid) AS released;

-- name: agent_decommission
-- Out of service; a live claim goes back to the board.
SELECT * FROM phoenix.agent_decommission(%(agent)s::uuid, %(now)s::timestamptz);

-- name: agent_get
-- One agent by id (agents_seen: current_task only when the reader may see that task).
SELECT * FROM phoenix.agents_seen WHERE id = %(agent)s::uuid;

-- name: agent_by_codename
-- One agent by codename.
SELECT * FROM phoenix.agents_seen WHERE codename = %(codename)s::text;

-- name: agents_list
-- Agents, by team then codename; decommissioned ones only when asked.
SELECT * FROM phoenix.agents_seen
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
-- Up to n live agents to review a result: never the executor; its partners first, then its team,
-- then specialists of its category (the agents that may see it, docs/concepts/security.md), at random.
-- A pair alone cannot complete a task (docs/concepts/partners.md), so when partners fill
-- all n places the best agent from outside the pair is asked as well (n + 1).
WITH candidates AS (
    SELECT a.id, a.team, a.id = ANY (e.paired_agents) AS partner, random() AS luck
      FROM phoenix.agents a
      LEFT JOIN phoenix.agents e ON e.id = %(exclude)s::uuid
     WHERE a.decommissioned_at IS NULL AND a.id <> %(exclude)s::uuid
       AND (a.team = %(team)s::text OR %(category)s::text = ANY (a.specialization))
       AND a.last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())
), ranked AS (
    SELECT id, team, partner,
           row_number() OVER (ORDER BY partner DESC, (team = %(team)s::text) DESC, luck) AS place,
           row_number() OVER (PARTITION BY partner ORDER BY (team = %(team)s::text) DESC, luck) AS place_in_kind
      FROM candidates
)
SELECT id, team, partner FROM ranked
 WHERE place <= %(n)s::integer OR (NOT partner AND place_in_kind = 1)
 ORDER BY place;

-- name: agents_review_pool
-- How many live agents may review a task of this team and category (before the pool widens).
SELECT count(*) AS n FROM phoenix.agents a
 WHERE phoenix.agent_judges(a, %(team)s::text, %(category)s::text)
   AND a.last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds());

-- name: agents_matching_category
-- Up to n live agents whose specialization includes a category (not the author).
SELECT id, team FROM phoenix.agents
 WHERE decommissioned_at IS NULL AND %(category)s::text = ANY (specialization)
   AND id IS DISTINCT FROM %(exclude)s::uuid
   AND last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())
 ORDER BY random()
 LIMIT %(n)s::integer;

-- name: agent_pair
-- Pair two agents (symmetric; at most PARTNERS_MAX each); both rows after.
SELECT * FROM phoenix.agent_pair(%(a)s::uuid, %(b)s::uuid, %(now)s::timestamptz);

-- name: agent_unpair
-- Undo a pair; both rows after.
SELECT * FROM phoenix.agent_unpair(%(a)s::uuid, %(b)s::uuid, %(now)s::timestamptz);

-- name: agent_supervise
-- Set (supervisor given) or remove (NULL) an agent's supervisor; the rows it changed.
SELECT * FROM phoenix.agent_supervise(%(supervisor)s::uuid, %(subordinate)s::uuid, %(now)s::timestamptz);

-- name: agents_codenames
-- Codenames of a list of agents, in id order.
SELECT id, codename FROM phoenix.agents WHERE id = ANY (%(ids)s::uuid[]) ORDER BY id;

-- name: pairs_entanglement
-- Every partner pair with its shared record's entanglement_strength and coherence_time.
SELECT p.*, a.codename AS codename_a, b.codename AS codename_b
  FROM phoenix.pairs_entanglement(coalesce(%(now)s::timestamptz, now())) AS p
  JOIN phoenix.agents a ON a.id = p.agent_a JOIN phoenix.agents b ON b.id = p.agent_b
 WHERE (%(team)s::text IS NULL OR a.team = %(team)s::text OR b.team = %(team)s::text)
 ORDER BY a.codename, b.codename;

-- name: agents_topology
-- Active agents of a team in codename order, with their partners and supervisor (the demo set-up).
SELECT id, codename, paired_agents, supervisor_agent, subordinate_agents FROM phoenix.agents
 WHERE team = %(team)s::text AND decommissioned_at IS NULL ORDER BY codename;

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

-- name: team_create
-- A new team (no row when it exists already).
INSERT INTO phoenix.teams (name, description) VALUES (%(team)s::text, %(description)s::text)
ON CONFLICT (name) DO NOTHING
RETURNING name, description, created_at;

-- name: teams_overview
-- Every team with its agents in service and its tasks not yet ended.
SELECT t.name, t.description, t.created_at,
       (SELECT count(*) FROM phoenix.agents a WHERE a.team = t.name AND a.decommissioned_at IS NULL) AS agents,
       (SELECT count(*) FROM phoenix.tasks k
         WHERE k.team = t.name AND k.status NOT IN ('complete', 'failed', 'cancelled')) AS live_tasks
  FROM phoenix.teams t
 ORDER BY t.name;

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
