-- The web board's own statements (web/reads.py, web/actions.py): only what no board function reads.

-- name: web_agents_named
-- Codename and trust (a vote's weight) of the agents a page names, by id.
SELECT id, codename, trust_coefficient FROM phoenix.agents WHERE id = ANY (%(ids)s::uuid[]);

-- name: web_task_boost
-- An operator sets an open or waiting task's priority, with its claim key, which the priority moves
-- (phoenix.claim_key); an ended or claimed task keeps its own. No row: no such task, or not in
-- one of those statuses.
UPDATE phoenix.tasks
   SET priority = %(priority)s::integer,
       claim_key = phoenix.claim_key(available_at, %(priority)s::integer, hot_score, deadline)
 WHERE id = %(task)s::uuid AND status IN ('open', 'waiting')
RETURNING id, priority, status::text AS status;

-- name: web_agent_cascades
-- The hormone cascades an agent took part in (sent or received), newest first.
SELECT i.hormone_exchange ->> 'cascade_id' AS cascade, i.hormone_exchange ->> 'hormone' AS hormone,
       count(*) AS edges, max(i.at) AS at
  FROM phoenix.agent_interactions i
 WHERE i.interaction_type = 'sync' AND (i.agent_to = %(agent)s::uuid OR i.agent_from = %(agent)s::uuid)
 GROUP BY 1, 2
 ORDER BY max(i.at) DESC
 LIMIT %(limit)s::integer;
