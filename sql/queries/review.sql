-- Judging work (docs/concepts/review.md): verdicts, review claims and their deadline, who may review or
-- assess a task, and the verdicts given.

-- name: task_review
-- A peer's verdict on the attempt in review; `decided` is approved / rejected at quorum, else NULL.
SELECT (r.task).*, r.decided
  FROM phoenix.task_review(%(task)s::uuid, %(agent)s::uuid, %(verdict)s::integer, %(reason)s::text, %(now)s::timestamptz) AS r;

-- name: task_review_claim
-- Take a place among the reviewers of the oldest task in review this agent may review; no row when none.
SELECT * FROM phoenix.task_review_claim(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: tasks_review_expire
-- Tasks left in review past REVIEW_EXPIRE_SECONDS fail for good with the reason (the beat).
SELECT * FROM phoenix.tasks_review_expire(%(now)s::timestamptz, %(limit)s::integer);

-- name: agents_pick_reviewers
-- Up to n live agents to review a result: never the executor; its partners first, then its team,
-- then specialists of its category (the agents that may see it, docs/concepts/security.md), at random.
-- A pair alone cannot complete a task (docs/concepts/partners.md), so when partners fill
-- all n places the best agent from outside the pair is asked as well (n + 1).
WITH candidates AS (
    SELECT a.id, a.team, a.id = ANY (e.paired_agents) AS partner, random() AS luck
      FROM phoenix.agents a
      LEFT JOIN phoenix.agents e ON e.id = %(exclude)s::uuid
     WHERE a.decommissioned_at IS NULL AND a.kind = 'agent' AND a.id <> %(exclude)s::uuid
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
SELECT phoenix.review_pool_size(%(team)s::text, %(category)s::text) AS n;

-- name: agents_matching_category
-- Up to n live agents whose specialization includes a category (not the author).
SELECT id, team FROM phoenix.assessors_for(%(category)s::text, %(exclude)s::uuid, %(n)s::integer);

-- name: task_reviews_for
-- The review verdicts on one task, by attempt.
SELECT r.attempt, r.agent_id, a.codename, r.verdict, r.weight, r.reason, r.at
  FROM phoenix.task_reviews r JOIN phoenix.agents a ON a.id = r.agent_id
 WHERE r.task_id = %(task)s::uuid ORDER BY r.attempt, r.at, r.agent_id;
