-- Flow control (docs/concepts/flow-control.md): the gates of teams and categories, usage and
-- the submissions that carry a time or a concurrency key (stored by task_submit). The rules live in
-- sql/functions/16_claim_gates.sql; these statements call them or read their rows.

-- name: gate_pause
-- Pause (paused true) or resume a team or a category.
SELECT * FROM phoenix.gate_pause(%(kind)s::text, %(scope)s::text, %(paused)s::boolean, %(reason)s::text, %(now)s::timestamptz);

-- name: gate_rate
-- Set or remove (per_minute NULL) a scope's rate limit.
SELECT * FROM phoenix.gate_rate(%(kind)s::text, %(scope)s::text, %(per_minute)s::integer, %(burst)s::integer, %(now)s::timestamptz);

-- name: gate_budget
-- Set a scope's budgets (NULL: none of that kind) and recount its spend in the current windows.
SELECT * FROM phoenix.gate_budget(%(kind)s::text, %(scope)s::text, %(hour_cost)s::numeric, %(day_cost)s::numeric,
                                  %(hour_tokens)s::bigint, %(day_tokens)s::bigint, %(now)s::timestamptz);

-- name: gates_list
-- Every gate with what holds it back now (held: paused, budget, rate or NULL), and the tasks of
-- its scope in flight (claimed or in progress) and waiting (open).
SELECT g.scope_kind, g.scope, g.paused_at, g.paused_reason, g.rate_per_minute, g.rate_burst,
       g.budget_hour_cost, g.budget_day_cost, g.budget_hour_tokens, g.budget_day_tokens,
       CASE WHEN g.hour_start = phoenix.gate_hour(coalesce(%(now)s::timestamptz, now())) THEN g.hour_cost ELSE 0 END AS hour_cost,
       CASE WHEN g.hour_start = phoenix.gate_hour(coalesce(%(now)s::timestamptz, now())) THEN g.hour_tokens ELSE 0 END AS hour_tokens,
       CASE WHEN g.day_start = phoenix.gate_day(coalesce(%(now)s::timestamptz, now())) THEN g.day_cost ELSE 0 END AS day_cost,
       CASE WHEN g.day_start = phoenix.gate_day(coalesce(%(now)s::timestamptz, now())) THEN g.day_tokens ELSE 0 END AS day_tokens,
       phoenix.gate_blocked(g, coalesce(%(now)s::timestamptz, now())) AS held,
       extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - g.paused_at)::float8 AS paused_seconds,
       (SELECT count(*) FROM phoenix.tasks t
         WHERE t.status IN ('claimed', 'in_progress')
           AND CASE g.scope_kind WHEN 'team' THEN t.team = g.scope ELSE t.category = g.scope END) AS in_flight
  FROM phoenix.claim_gates g
 WHERE (%(kind)s::text IS NULL OR g.scope_kind = %(kind)s::text)
   AND (%(scope)s::text IS NULL OR g.scope = %(scope)s::text)
 ORDER BY g.scope_kind, g.scope;

-- name: gate_in_flight
-- The tasks of a team or a category in flight (claimed or in progress): what drain waits for.
SELECT count(*) AS in_flight,
       count(*) FILTER (WHERE t.status = 'in_progress') AS in_progress
  FROM phoenix.tasks t
 WHERE t.status IN ('claimed', 'in_progress')
   AND CASE %(kind)s::text WHEN 'team' THEN t.team = %(scope)s::text ELSE t.category = %(scope)s::text END;

-- name: usage_totals
-- Usage summed by agent, team and model since a time (NULL: ever), optionally for one agent.
SELECT u.agent_id, a.codename, u.team, coalesce(u.model, '') AS model, count(*) AS attempts,
       sum(u.tokens_in)::bigint AS tokens_in, sum(u.tokens_out)::bigint AS tokens_out, sum(u.cost) AS cost
  FROM phoenix.task_usage u
  LEFT JOIN phoenix.agents a ON a.id = u.agent_id
 WHERE (%(agent)s::uuid IS NULL OR u.agent_id = %(agent)s::uuid)
   AND (%(since)s::timestamptz IS NULL OR u.at >= %(since)s::timestamptz)
 GROUP BY u.agent_id, a.codename, u.team, u.model
 ORDER BY u.team, a.codename, model;

-- name: usage_by_team_model
-- Usage ever reported, per team and model: the exporter's usage counters.
SELECT team, coalesce(model, '') AS model, sum(tokens_in)::bigint AS tokens_in, sum(tokens_out)::bigint AS tokens_out,
       sum(cost) AS cost
  FROM phoenix.task_usage
 GROUP BY team, model
 ORDER BY team, model;
