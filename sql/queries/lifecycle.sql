-- A task's life (docs/concepts/lifecycle.md), as board/lifecycle.py and the agents' client call it:
-- submission, claims, leases, results, failures, the lease sweeper, and reads of one task and its
-- history. Each transition is one call of a SQL function in sql/functions (locks: the order atop
-- sql/functions/19_locking.sql). The clock is a parameter: None in production (the server's
-- now()), pinned in tests.

-- name: task_submit
-- Create a task, or return the one with the same idempotency key; `created` tells which. The flow
-- fields (a not-before time, a concurrency key and its limit) may be NULL.
SELECT (r.task).*, r.created
  FROM phoenix.task_submit(%(title)s::text, %(description)s::text, %(category)s::text, %(payload)s::jsonb, %(priority)s::integer,
                           %(team)s::text, %(created_by)s::uuid, %(dopamine_reward)s::real, %(max_attempts)s::integer,
                           %(review_quorum)s::integer, %(depends_on)s::uuid[], %(deadline)s::timestamptz, %(fibonacci_size)s::integer,
                           %(idempotency_key)s::text, %(now)s::timestamptz, %(needs_person)s::boolean,
                           %(not_before)s::timestamptz, %(concurrency_key)s::text, %(concurrency_limit)s::integer) AS r;

-- name: task_claim
-- The first task in the claim order for this agent, claimed with a lease; no row if none.
SELECT * FROM phoenix.task_claim(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_claim_start
-- Claim the next task and start it: the agent loop's first call after a wake-up.
SELECT * FROM phoenix.task_claim_start(%(agent)s::uuid, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_renew
-- Extend the lease of a live claim (fenced by attempt).
SELECT * FROM phoenix.task_renew(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_renew_held
-- Extend the leases of a pool's claims in one statement (its holder token for its agents); the
-- rows are the claims not renewed, with why.
SELECT * FROM phoenix.task_renew_held(%(holder)s::uuid, %(tasks)s::uuid[], %(agents)s::uuid[], %(attempts)s::integer[],
                                      %(lease)s::float8, %(now)s::timestamptz);

-- name: task_start
-- claimed -> in_progress (fenced by attempt); renews the lease.
SELECT * FROM phoenix.task_start(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(lease)s::float8, %(now)s::timestamptz);

-- name: task_result
-- The claimant's result: complete, or review when the task has a quorum.
SELECT * FROM phoenix.task_result(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(output)s::jsonb, %(quality)s::real, %(now)s::timestamptz);

-- name: task_result_claim_next
-- The result of the current attempt, then the next task claimed and started, in one call.
SELECT * FROM phoenix.task_result_claim_next(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer,
                                             %(output)s::jsonb, %(quality)s::real, %(lease)s::float8,
                                             %(now)s::timestamptz);

-- name: task_fail
-- The claimant's failure: retry after backoff, or failed for good.
SELECT * FROM phoenix.task_fail(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(reason)s::text, %(now)s::timestamptz);

-- name: task_fail_unhandled
-- The claimant has no handler for the category: failed for good at once, no agent blamed.
SELECT * FROM phoenix.task_fail_unhandled(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(now)s::timestamptz);

-- name: task_fail_unloadable
-- The claimant could not load the task it claimed: failed for good at once with its reason, no
-- agent blamed. Returns no column the agent might fail to load again.
SELECT id, attempt, status::text AS status
  FROM phoenix.task_fail_unloadable(%(task)s::uuid, %(agent)s::uuid, %(attempt)s::integer, %(reason)s::text,
                                    %(now)s::timestamptz);

-- name: task_claim_held
-- The live claim this agent holds, as id and attempt only: what the agent can still read when
-- the claimed row itself cannot be loaded.
SELECT t.id, t.attempt
  FROM phoenix.agents_seen a
  JOIN phoenix.tasks t ON t.id = a.current_task AND t.assigned_to = a.id
 WHERE a.id = %(agent)s::uuid AND t.status IN ('claimed', 'in_progress');

-- name: task_release_expired
-- Expired leases back to the board (one batch); returns the released tasks.
SELECT * FROM phoenix.task_release_expired(%(now)s::timestamptz, %(limit)s::integer);

-- name: task_get
-- One task by id, with the tasks that depend on it (blocks), from task_dependencies.
SELECT t.*, ARRAY(SELECT d.task_id FROM phoenix.task_dependencies d WHERE d.depends_on = t.id ORDER BY d.task_id) AS blocks
  FROM phoenix.tasks t WHERE t.id = %(task)s::uuid;

-- name: task_by_key
-- The task submitted with this idempotency key (keys are per submitter: the first one, which for
-- the queue's submissions naming no agent is the only one).
SELECT * FROM phoenix.tasks WHERE idempotency_key = %(key)s::text ORDER BY created_at, id LIMIT 1;

-- name: task_events_for
-- One task's history in order.
SELECT e.id, e.seq, e.kind, e.agent_id, a.codename, e.attempt, e.at, e.detail
  FROM phoenix.task_events e LEFT JOIN phoenix.agents a ON a.id = e.agent_id
 WHERE e.task_id = %(task)s::uuid ORDER BY e.seq;
