-- `phoenix-board bench prune` (harness/bench/prune.py): finished tasks with a history, seeded in
-- bulk, and the baseline, the plain DELETE of such rows in one transaction.

-- name: bench_prune_seed
-- n finished tasks titled <label><i>, finished at `at`, each with four events (its chain), one
-- outcome interaction rating `agent` and one comment by it. The link triggers chain the rows.
WITH t AS (
    INSERT INTO phoenix.tasks (title, team, category, status, attempt, created_at, claimed_at, completed_at, claim_key,
                               available_at, last_activity_at)
    SELECT %(label)s::text || g, %(team)s::text, 'bench', 'complete', 1, %(at)s::timestamptz, %(at)s::timestamptz,
           %(at)s::timestamptz, %(at)s::timestamptz, %(at)s::timestamptz, %(at)s::timestamptz
      FROM generate_series(1, %(n)s::integer) AS g
    RETURNING id
), events AS (
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    SELECT t.id, k.kind, CASE WHEN k.kind = 'submitted' THEN NULL ELSE %(agent)s::uuid END,
           CASE WHEN k.kind = 'submitted' THEN 0 ELSE 1 END, %(at)s::timestamptz, '{}'
      FROM t CROSS JOIN (VALUES (1, 'submitted'), (2, 'claimed'), (3, 'started'), (4, 'completed')) AS k (n, kind)
     ORDER BY t.id, k.n
    RETURNING 1
), rated AS (
    INSERT INTO phoenix.agent_interactions (agent_from, agent_to, interaction_type, task_id, trust_delta, success, at)
    SELECT NULL, %(agent)s::uuid, 'outcome', t.id, 0.01, true, %(at)s::timestamptz FROM t ORDER BY t.id
    RETURNING 1
), commented AS (
    INSERT INTO phoenix.task_comments (task_id, agent_id, content, created_at)
    SELECT t.id, %(agent)s::uuid, 'done', %(at)s::timestamptz FROM t
    RETURNING 1
)
SELECT (SELECT count(*) FROM t) AS tasks, (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM rated) AS interactions, (SELECT count(*) FROM commented) AS comments;

-- name: bench_prune_guard_off
-- The baseline's transaction may delete from the append-only tables, as the prune's may.
SELECT set_config('phoenix.pruning', 'on', true) AS pruning;

-- name: bench_prune_baseline
-- The baseline: every row of the labelled tasks, deleted by plain statements in one transaction.
WITH ids AS (SELECT id FROM phoenix.tasks WHERE title LIKE %(label)s::text || '%%'),
events AS (DELETE FROM phoenix.task_events WHERE task_id IN (SELECT id FROM ids) RETURNING 1),
rated AS (DELETE FROM phoenix.agent_interactions WHERE task_id IN (SELECT id FROM ids) RETURNING 1),
commented AS (DELETE FROM phoenix.task_comments WHERE task_id IN (SELECT id FROM ids) RETURNING 1),
tasks AS (DELETE FROM phoenix.tasks WHERE id IN (SELECT id FROM ids) RETURNING 1)
SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rated) + (SELECT count(*) FROM commented)
       + (SELECT count(*) FROM tasks) AS rows;

-- name: bench_prune_analyze
-- Fresh statistics after the bulk seed, as autovacuum would give a board that grew slowly.
ANALYZE phoenix.tasks, phoenix.task_events, phoenix.agent_interactions, phoenix.task_comments;
