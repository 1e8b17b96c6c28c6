-- Retention (docs/operations/retention.md): the beat's batches of finished tasks, the table sizes
-- a soak run watches, and the audit checkpoints `audit verify` starts from.

-- name: tasks_prune
-- One batch: finished trees older than the cutoff and their history, with a checkpoint; jsonb result.
SELECT phoenix.tasks_prune(%(cutoff)s::timestamptz, %(batch)s::integer, %(after_at)s::timestamptz,
                           %(after_id)s::uuid, %(now)s::timestamptz) AS result;

-- name: retention_table_rows
-- Live rows of the tables retention keeps flat (exact counts: for soak runs and tests, not scrapes).
SELECT (SELECT count(*) FROM phoenix.tasks) AS tasks,
       (SELECT count(*) FROM phoenix.task_events) AS task_events,
       (SELECT count(*) FROM phoenix.agent_interactions) AS agent_interactions,
       (SELECT count(*) FROM phoenix.task_votes) AS task_votes,
       (SELECT count(*) FROM phoenix.task_comments) AS task_comments,
       (SELECT count(*) FROM phoenix.task_dependencies) AS task_dependencies,
       (SELECT count(*) FROM phoenix.audit_checkpoints) AS audit_checkpoints;

-- name: audit_checkpoints_walk
-- The checkpoints after a cursor, each with its recomputed hash and the previous row's hash.
SELECT c.id, c.at, c.tasks, c.prev_hash = coalesce(lag(c.hash) OVER (ORDER BY c.id), phoenix.chain_genesis()) AS linked,
       c.hash = phoenix.checkpoint_hash(c.prev_hash, c.id, c.at, c.cutoff, c.tasks, c.task_heads, c.agent_heads, c.deleted)
           AS intact
  FROM phoenix.audit_checkpoints c
 ORDER BY c.id;

-- name: audit_chain_bases_check
-- Each pruned agent chain's base, and whether the checkpoint that set it records it.
SELECT b.agent_to, b.seq, b.checkpoint_id,
       coalesce(c.agent_heads -> b.agent_to::text = jsonb_build_array(b.seq, encode(b.hash, 'hex')), false) AS recorded
  FROM phoenix.audit_chain_bases b LEFT JOIN phoenix.audit_checkpoints c ON c.id = b.checkpoint_id
 ORDER BY b.agent_to;

-- name: audit_checkpoint_latest
-- The latest checkpoint: where verification of the pruned chains starts.
SELECT id, at, cutoff, tasks, encode(hash, 'hex') AS hash FROM phoenix.audit_checkpoints ORDER BY id DESC LIMIT 1;
