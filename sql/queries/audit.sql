-- Walking the hash chains (docs/concepts/audit.md). Each statement checks the chains of
-- one batch of owners (tasks, or rated agents) after a cursor and returns the broken links:
--   gap         a seq is missing (a row was deleted) or the chain does not start at 1;
--   prev_hash   a row does not point at the row before it (that row, or this link, was rewritten);
--   content     a row's fields no longer give its hash (the row was edited);
--   missing     a task has no history at all (its rows were deleted).
-- The batch's last owner comes back as `last` so the caller can go on after it.

-- name: audit_task_events
WITH owners AS (
    SELECT id FROM phoenix.tasks WHERE id > %(after)s::uuid ORDER BY id LIMIT %(batch)s
), links AS (
    SELECT e.task_id AS owner, e.id, e.seq, e.at, e.prev_hash, e.hash,
           lag(e.seq) OVER w AS prev_seq, lag(e.hash) OVER w AS prev_row_hash,
           phoenix.task_event_hash(e.prev_hash, e.task_id, e.seq, e.kind, e.agent_id, e.attempt, e.at, e.detail)
               AS recomputed
      FROM phoenix.task_events e JOIN owners o ON o.id = e.task_id
    WINDOW w AS (PARTITION BY e.task_id ORDER BY e.seq)
), broken AS (
    SELECT owner, id, seq, at,
           CASE WHEN seq <> coalesce(prev_seq, 0) + 1 THEN 'gap'
                WHEN prev_hash <> coalesce(prev_row_hash, phoenix.chain_genesis()) THEN 'prev_hash'
                WHEN hash <> recomputed THEN 'content' END AS fault
      FROM links
    UNION ALL
    SELECT o.id, NULL, NULL, NULL, 'missing' FROM owners o
     WHERE NOT EXISTS (SELECT 1 FROM phoenix.task_events e WHERE e.task_id = o.id)
)
SELECT (SELECT id FROM owners ORDER BY id DESC LIMIT 1) AS last,
       (SELECT count(*) FROM links) AS rows_checked,
       (SELECT count(*) FROM owners) AS owners_checked,
       coalesce((SELECT jsonb_agg(jsonb_build_object('owner', owner, 'id', id, 'seq', seq, 'at', at, 'fault', fault)
                                  ORDER BY owner, seq)
                   FROM broken WHERE fault IS NOT NULL), '[]') AS broken;

-- name: audit_agent_interactions
WITH owners AS (
    SELECT id FROM phoenix.agents WHERE id > %(after)s::uuid ORDER BY id LIMIT %(batch)s
), links AS (
    SELECT i.agent_to AS owner, i.id, i.seq, i.at, i.prev_hash, i.hash,
           lag(i.seq) OVER w AS prev_seq, lag(i.hash) OVER w AS prev_row_hash,
           phoenix.interaction_hash(i.prev_hash, i.agent_to, i.seq, i.agent_from, i.interaction_type, i.task_id,
                                    i.trust_delta, i.hormone_exchange, i.success, i.metadata, i.at) AS recomputed,
           b.seq AS base_seq, b.hash AS base_hash
      FROM phoenix.agent_interactions i JOIN owners o ON o.id = i.agent_to
      LEFT JOIN phoenix.audit_chain_bases b ON b.agent_to = i.agent_to
    WINDOW w AS (PARTITION BY i.agent_to ORDER BY i.seq)
), broken AS (
    -- a chain whose front was pruned starts after its base (the latest checkpoint's head for it)
    SELECT owner, id, seq, at,
           CASE WHEN seq <> coalesce(prev_seq, base_seq, 0) + 1 THEN 'gap'
                WHEN prev_hash <> coalesce(prev_row_hash, base_hash, phoenix.chain_genesis()) THEN 'prev_hash'
                WHEN hash <> recomputed THEN 'content' END AS fault
      FROM links
)
SELECT (SELECT id FROM owners ORDER BY id DESC LIMIT 1) AS last,
       (SELECT count(*) FROM links) AS rows_checked,
       (SELECT count(*) FROM owners) AS owners_checked,
       coalesce((SELECT jsonb_agg(jsonb_build_object('owner', owner, 'id', id, 'seq', seq, 'at', at, 'fault', fault)
                                  ORDER BY owner, seq)
                   FROM broken WHERE fault IS NOT NULL), '[]') AS broken;

-- name: audit_totals
-- What a full walk will cover, for its progress bar.
SELECT (SELECT count(*) FROM phoenix.tasks) AS tasks, (SELECT count(*) FROM phoenix.agents) AS agents;
