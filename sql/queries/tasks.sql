-- Statements on phoenix.tasks. Each transition is one call of a SQL function in sql/functions.
--
-- Lock order, everywhere: task rows before agent rows; among tasks, the task being moved, then
-- its dependencies or dependents in id order; among agents, the acting agent, then others in id
-- order. Claims lock their agent first but take tasks with SKIP LOCKED, so they never wait on a
-- task. The clock is a parameter: None in production (the server's now()), pinned in tests.

-- name: task_submit
-- Create a task, or return the one with the same idempotency key; `created` tells which.
SELECT (r.task).*, r.created
  FROM phoenix.task_submit(%(title)s::text, %(description)s::text, %(category)s::text, %(payload)s::jsonb, %(priority)s::integer,
                           %(team)s::text, %(created_by)s::uuid, %(dopamine_reward)s::real, %(max_attempts)s::integer,
                           %(review_quorum)s::integer, %(depends_on)s::uuid[], %(deadline)s::timestamptz, %(fibonacci_size)s::integer,
                           %(idempotency_key)s::text, %(now)s::timestamptz) AS r;

-- name: task_claim
-- The first task in the claim order for this agent, claimed with a lease; no row if none.
SELECT * FROM phoenix.task_claim(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_renew
-- Extend the lease of a live claim (fenced by attempt).
SELECT * FROM phoenix.task_renew(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_start
-- claimed -> in_progress (fenced by attempt); renews the lease.
SELECT * FROM phoenix.task_start(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_result
-- The claimant's result: complete, or review when the task has a quorum.
SELECT * FROM phoenix.task_result(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(output)s::jsonb, %(quality)s::real, %(now)s::timestamptz);

-- name: task_fail
-- The claimant's failure: retry after backoff, or failed for good.
SELECT * FROM phoenix.task_fail(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(reason)s::text, %(now)s::timestamptz);

-- name: task_fail_unhandled
-- The claimant has no handler for the category: failed for good at once, no agent blamed.
SELECT * FROM phoenix.task_fail_unhandled(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(now)s::timestamptz);

-- name: task_review
-- A peer's verdict on the attempt in review; `decided` is approved / rejected at quorum, else NULL.
SELECT (r.task).*, r.decided
  FROM phoenix.task_review(%(task)s::uuid, %(agent)s::uuid, %(verdict)s::integer, %(reason)s::text, %(now)s::timestamptz) AS r;

-- name: task_review_claim
-- Take a place among the reviewers of the oldest task in review this agent may review; no row when none.
SELECT * FROM phoenix.task_review_claim(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: reviews_claimable_count
-- How many reviews a team's live agents could claim now (capped): the idle poller wakes agents for them.
SELECT phoenix.reviews_claimable_count(%(team)s::text, 64) AS n;

-- name: metrics_review_oldest
-- Per team, how long the oldest task in review has waited for its verdicts (ReviewStalled).
SELECT team, extract(epoch FROM now() - min(review_since))::float8 AS seconds
  FROM phoenix.tasks WHERE status = 'review' GROUP BY team ORDER BY team;

-- name: tasks_review_expire
-- Tasks left in review past REVIEW_EXPIRE_SECONDS fail for good with the reason (the beat).
SELECT * FROM phoenix.tasks_review_expire(%(now)s::timestamptz, %(limit)s::integer);

-- name: task_release_expired
-- Expired leases back to the board (one batch); returns the released tasks.
SELECT * FROM phoenix.task_release_expired(%(now)s::timestamptz, %(limit)s::integer);

-- name: tasks_refresh_ranks
-- One batch of the hot/active rank refresh after a created_at.
SELECT * FROM phoenix.tasks_refresh_ranks(%(after)s::timestamptz, %(batch)s::integer, %(now)s::timestamptz);

-- name: task_get
-- One task by id, with the tasks that depend on it (blocks), from task_dependencies.
SELECT t.*, ARRAY(SELECT d.task_id FROM phoenix.task_dependencies d WHERE d.depends_on = t.id ORDER BY d.task_id) AS blocks
  FROM phoenix.tasks t WHERE t.id = %(task)s::uuid;

-- name: task_status_counts
-- Tasks per status and team, for the board summary.
SELECT team, status::text AS status, count(*) AS n
  FROM phoenix.tasks
 WHERE (%(team)s::text IS NULL OR team = %(team)s::text)
 GROUP BY team, status ORDER BY team, status;

-- name: tasks_claimable_count
-- How many tasks of a team are claimable now (capped: the poller only needs "how many to wake").
SELECT phoenix.tasks_claimable_count(%(team)s::text, 64) AS n;

-- name: task_by_key
-- The task submitted with this idempotency key (keys are per submitter: the first one, which for
-- the queue's submissions naming no agent is the only one).
SELECT * FROM phoenix.tasks WHERE idempotency_key = %(key)s::text ORDER BY created_at, id LIMIT 1;

-- name: task_claim_start
-- Claim the next task and start it: the agent loop's first call after a wake-up.
SELECT * FROM phoenix.task_claim_start(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_result_claim_next
-- The result of the current attempt, then the next task claimed and started, in one call.
SELECT * FROM phoenix.task_result_claim_next(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer,
                                             %(output)s::jsonb, %(quality)s::real, %(lease)s::float8,
                                             %(now)s::timestamptz);

-- name: teams_with_claimable_work
-- Teams that have a claimable task, or a review their live agents could claim, now (the sweeper
-- wakes their agents).
SELECT name AS team FROM phoenix.teams t
 WHERE EXISTS (SELECT 1 FROM phoenix.tasks
                WHERE team = t.name AND status = 'open' AND pending_deps = 0
                  AND available_at <= coalesce(%(now)s::timestamptz, now()))
    OR phoenix.reviews_claimable_count(t.name, 1) > 0;

-- name: tasks_refresh_ranks_outside
-- Re-rank the tasks older than the window that are still ranked.
SELECT phoenix.tasks_refresh_ranks_outside(%(now)s::timestamptz) AS updated;

-- name: task_delegate
-- The claimant splits its task into children and the task waits for them (docs/concepts/delegation.md).
SELECT (d.task).*, d.children, d.created
  FROM phoenix.task_delegate(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(children)s::jsonb,
                             %(join_k)s::integer, %(on_failure)s::text, %(now)s::timestamptz) AS d;

-- name: task_cancel
-- Cancels a task and its live descendants; `cancelled` counts them.
SELECT (c.task).*, c.cancelled
  FROM phoenix.task_cancel(%(task)s::uuid, %(agent)s::uuid, %(reason)s::text, %(now)s::timestamptz) AS c;

-- name: task_children
-- A task's children and their outcomes, in the order they were asked for.
SELECT * FROM phoenix.task_children(%(task)s::uuid, %(agent)s::uuid);

-- name: task_tree
-- A task and all its descendants, depth first, with who worked and who delegated each.
WITH RECURSIVE tree AS (
    SELECT t.id, 0 AS level, ARRAY[t.created_at::text || t.id::text] AS path FROM phoenix.tasks t WHERE t.id = %(task)s::uuid
    UNION ALL
    SELECT c.id, tree.level + 1, tree.path || (c.created_at::text || coalesce(lpad(c.child_key, 10, '0'), '') || c.id::text)
      FROM phoenix.tasks c JOIN tree ON c.parent_id = tree.id
)
SELECT t.id, t.parent_id, tree.level, t.title, t.category, t.status::text AS status, t.attempt, t.child_key,
       t.children_total, t.children_done, t.children_failed, t.join_k, t.on_child_failure,
       w.codename AS agent, d.codename AS delegated_by, e.codename AS escalated_to
  FROM tree
  JOIN phoenix.tasks t USING (id)
  LEFT JOIN phoenix.agents w ON w.id = t.assigned_to
  LEFT JOIN phoenix.agents d ON d.id = t.delegated_by
  LEFT JOIN phoenix.agents e ON e.id = t.escalated_to
 ORDER BY tree.path;

-- name: task_ids_by_fragment
-- Tasks whose id (32 hex digits, no dashes) contains the fragment, those it ends with first (the
-- short id tables show is an id's tail); at most `limit`. A scan, fine for one typed id.
SELECT id, title, replace(id::text, '-', '') LIKE '%%' || %(fragment)s::text AS tail
  FROM phoenix.tasks
 WHERE strpos(replace(id::text, '-', ''), %(fragment)s::text) > 0
 ORDER BY tail DESC, id
 LIMIT %(limit)s::integer;
