-- The federation's graph (docs/concepts/partners.md, docs/concepts/cascades.md): pairing and
-- supervision, the pairs' entanglement, the topology, and hormone cascades (a cascade locks the
-- cascade's row, then agents in id order).

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

-- name: hormone_cascade
-- The operator's cascade from one agent or a team, spread at once; a known id changes nothing.
SELECT * FROM phoenix.hormone_cascade(%(id)s::uuid, %(hormone)s::text, %(intensity)s::float8,
                                      %(team)s::text, %(agent)s::uuid, %(now)s::timestamptz);

-- name: hormone_cascade_run
-- Spread one cascade (an event's, left pending by its transaction); an applied one is returned as is.
SELECT * FROM phoenix.hormone_cascade_run(%(id)s::uuid, %(now)s::timestamptz);

-- name: hormone_cascades_pending
-- Cascades that events started and the beat has not spread yet, oldest first.
SELECT id FROM phoenix.hormone_cascades WHERE applied_at IS NULL ORDER BY created_at, id LIMIT %(limit)s::integer;
