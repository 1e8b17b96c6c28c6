-- Retention (docs/operations/retention.md): finished tasks older than the cutoff are deleted with
-- their history, one small batch per transaction, and a checkpoint of the hash chains' heads is
-- written in that same transaction (migration 0021), so `audit verify` still holds afterwards.
--
-- What a batch deletes:
--   1. the front of each agent's interaction chain: rows rated before the cutoff, up to the first
--      that names a live task (a review's "rated once per attempt" reads them); the agent's new
--      base (the last deleted row's seq and hash) goes to audit_chain_bases, where the next rating
--      links when the whole chain went (migration 0021);
--   2. whole delegation trees whose every task finished before the cutoff, oldest first, taken
--      with SKIP LOCKED, and kept while anything still needs them: a dependent outside the batch,
--      an interaction that names them (newer than the cutoff), an agent's current_task, a
--      hormone cascade not yet spread; with them their events (whole chains), votes, reviews,
--      review assignments, comments and their votes, spread cascades and dependency links.
-- Outbox rows are not deleted: the relay prunes published rows past the stream's retention; those
-- not yet assigned get their payload from their events before the events go.
-- Nothing live is ever deleted: only complete, failed and cancelled rows qualify, and a task that
-- comes back (a retry) holds its row lock, so the batch skips it.
--
-- Locks: task rows only (roots with SKIP LOCKED, then their trees), never an agent row; the
-- history rows are deleted under them. One pruner at a time (a transaction-scoped advisory
-- lock): a second beat's batch returns at once having done nothing.
-- p_after_at, p_after_id: the cursor (completed_at, id) of the last root the previous batch looked at,
-- so that roots kept back (a live dependent, a recent rating) do not hold up the ones after them;
-- the result's `last_at`, `last_id` are the next batch's cursor, NULL when there is nothing after.
CREATE OR REPLACE FUNCTION phoenix.tasks_prune(
    p_cutoff timestamptz, p_batch integer, p_after_at timestamptz DEFAULT NULL, p_after_id uuid DEFAULT NULL,
    p_now timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v record;
    v_stop integer;
    v_hash bytea;
    v_agent_heads jsonb := '{}';
    v_tasks uuid[];
    v_n integer;
    v_task_heads bytea;
    v_deleted jsonb := '{}';
    v_rows bigint;
    v_interactions bigint := 0;
    v_id bigint;
    v_prev bytea;
    v_last_at timestamptz;
    v_last_id uuid;
BEGIN
    IF NOT phoenix.caller_is_owner() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0', MESSAGE = format('role %s may not prune the board', phoenix.invoker());
    END IF;
    IF p_batch IS NULL OR p_batch NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('a prune batch is 1 to 10000 tasks, not %s', p_batch);
    END IF;
    IF p_cutoff IS NULL OR p_cutoff > v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('the prune cutoff %s is in the future', p_cutoff);
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtextextended('phoenix.tasks_prune', 0)) THEN
        RETURN jsonb_build_object('skipped', true, 'tasks', 0, 'rows', 0);
    END IF;
    PERFORM set_config('phoenix.pruning', 'on', true);

    -- 1. the front of each agent's interaction chain
    FOR v IN
        SELECT a.id AS agent, coalesce(b.seq, 0) AS base,
               (SELECT max(i.seq) FROM phoenix.agent_interactions i WHERE i.agent_to = a.id) AS head
          FROM phoenix.agents a LEFT JOIN phoenix.audit_chain_bases b ON b.agent_to = a.id
         ORDER BY a.id
    LOOP
        CONTINUE WHEN v.head IS NULL OR v.head <= v.base;
        SELECT i.seq - 1 INTO v_stop
          FROM phoenix.agent_interactions i LEFT JOIN phoenix.tasks t ON t.id = i.task_id
         WHERE i.agent_to = v.agent AND i.seq > v.base AND i.seq <= v.base + 2 * p_batch
           AND NOT (i.at < p_cutoff AND (i.task_id IS NULL OR t.status IN ('complete', 'failed', 'cancelled')))
         ORDER BY i.seq LIMIT 1;
        -- at most two rows per task of the batch per agent, so a batch's work (and the scan
        -- above) stays bounded however long the chain; what is left goes in the next batch
        v_stop := least(coalesce(v_stop, v.head), v.base + 2 * p_batch);
        CONTINUE WHEN v_stop <= v.base;
        SELECT hash INTO v_hash FROM phoenix.agent_interactions WHERE agent_to = v.agent AND seq = v_stop;
        DELETE FROM phoenix.agent_interactions WHERE agent_to = v.agent AND seq > v.base AND seq <= v_stop;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_interactions := v_interactions + v_rows;
        v_agent_heads := v_agent_heads || jsonb_build_object(v.agent, jsonb_build_array(v_stop, encode(v_hash, 'hex')));
    END LOOP;

    -- 2. whole trees, oldest first: the roots first (SKIP LOCKED: a retry or a vote holds it)
    SELECT coalesce(array_agg(id), '{}') INTO v_tasks FROM (
        SELECT r.id FROM phoenix.tasks r
         WHERE r.status IN ('complete', 'failed', 'cancelled') AND r.parent_id IS NULL AND r.completed_at < p_cutoff
           AND (p_after_at IS NULL OR (r.completed_at, r.id) > (p_after_at, p_after_id))
         ORDER BY r.completed_at, r.id
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED) AS roots;
    SELECT completed_at, id INTO v_last_at, v_last_id FROM phoenix.tasks WHERE id = ANY (v_tasks)
     ORDER BY completed_at DESC, id DESC LIMIT 1;
    -- then their trees, which must have finished before the cutoff too
    CREATE TEMP TABLE IF NOT EXISTS prune_batch (root uuid NOT NULL, id uuid PRIMARY KEY) ON COMMIT DROP;
    INSERT INTO prune_batch (root, id)
    WITH RECURSIVE tree (root, id) AS (
        SELECT id, id FROM unnest(v_tasks) AS r (id)
        UNION
        SELECT tree.root, c.id FROM phoenix.tasks c JOIN tree ON c.parent_id = tree.id
    )
    SELECT root, id FROM tree;
    DELETE FROM prune_batch WHERE root IN (
        SELECT b.root FROM prune_batch b JOIN phoenix.tasks t ON t.id = b.id
         WHERE NOT (t.status IN ('complete', 'failed', 'cancelled') AND t.completed_at < p_cutoff)
            OR EXISTS (SELECT 1 FROM phoenix.agent_interactions i WHERE i.task_id = t.id)
            OR EXISTS (SELECT 1 FROM phoenix.agents a WHERE a.current_task = t.id)
            OR EXISTS (SELECT 1 FROM phoenix.hormone_cascades h WHERE h.task_id = t.id AND h.applied_at IS NULL));
    -- a task another task depends on goes only with its dependents (a finished dependent that stays
    -- would lose the link its pending_deps counts); dropping one tree may strand another: repeat
    LOOP
        DELETE FROM prune_batch WHERE root IN (
            SELECT b.root FROM prune_batch b JOIN phoenix.task_dependencies l ON l.depends_on = b.id
             WHERE NOT EXISTS (SELECT 1 FROM prune_batch o WHERE o.id = l.task_id));
        EXIT WHEN NOT FOUND;
    END LOOP;
    SELECT coalesce(array_agg(id ORDER BY id), '{}'), count(*) INTO v_tasks, v_n FROM prune_batch;
    -- the trees' other rows, in id order (roots are held, so no transition moves them)
    PERFORM 1 FROM phoenix.tasks WHERE id = ANY (v_tasks) ORDER BY id FOR UPDATE;

    IF v_n = 0 AND v_interactions = 0 THEN
        DROP TABLE prune_batch;
        PERFORM set_config('phoenix.pruning', 'off', true);
        RETURN jsonb_build_object('skipped', false, 'tasks', 0, 'rows', 0, 'last_at', v_last_at, 'last_id', v_last_id);
    END IF;

    -- the heads of the task chains about to go, before they go
    SELECT sha256(convert_to(coalesce(string_agg(h.task_id::text || ':' || h.seq || ':' || encode(h.hash, 'hex'), ','
                                                 ORDER BY h.task_id), ''), 'UTF8'))
      INTO v_task_heads
      FROM (SELECT DISTINCT ON (e.task_id) e.task_id, e.seq, e.hash FROM phoenix.task_events e
             WHERE e.task_id = ANY (v_tasks) ORDER BY e.task_id, e.seq DESC) AS h;

    -- an outbox row the relay has not assigned yet (it is down) has no payload: build it now from
    -- the events about to go (sql/functions/50_outbox.sql); an assigned row has its own. Unassigned
    -- rows are those outbox_unassigned_idx holds: few unless the relay is down.
    UPDATE phoenix.outbox o SET payload = phoenix.outbox_task_payload(o.topic, e, t, o.status)
      FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
     WHERE o.stream_ms IS NULL AND o.payload IS NULL AND o.task_id = ANY (v_tasks)
       AND e.task_id = o.task_id AND e.seq = o.seq;
    DELETE FROM phoenix.task_events WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_events', v_rows);
    DELETE FROM phoenix.task_votes WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_votes', v_rows);
    DELETE FROM phoenix.task_reviews WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_reviews', v_rows);
    DELETE FROM phoenix.review_assignments WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('review_assignments', v_rows);
    DELETE FROM phoenix.comment_votes WHERE comment_id IN (SELECT id FROM phoenix.task_comments WHERE task_id = ANY (v_tasks));
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('comment_votes', v_rows);
    DELETE FROM phoenix.task_comments WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_comments', v_rows);
    DELETE FROM phoenix.hormone_cascades WHERE task_id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('hormone_cascades', v_rows);
    -- the usage a task's attempts reported (flow control's table, where it is there): the budgets
    -- read the current hour and day only, far inside the shortest retention
    IF to_regclass('phoenix.task_usage') IS NOT NULL THEN
        EXECUTE 'DELETE FROM phoenix.task_usage WHERE task_id = ANY ($1)' USING v_tasks;
        GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_usage', v_rows);
    END IF;
    DELETE FROM phoenix.task_dependencies WHERE task_id = ANY (v_tasks) OR depends_on = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('task_dependencies', v_rows);
    DELETE FROM phoenix.tasks WHERE id = ANY (v_tasks);
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_deleted := v_deleted || jsonb_build_object('tasks', v_rows);
    v_deleted := v_deleted || jsonb_build_object('agent_interactions', v_interactions);
    DROP TABLE prune_batch;

    -- the checkpoint, linked to the one before (the advisory lock makes this the only writer)
    SELECT hash INTO v_prev FROM phoenix.audit_checkpoints ORDER BY id DESC LIMIT 1;
    v_prev := coalesce(v_prev, phoenix.chain_genesis());
    v_id := nextval(pg_get_serial_sequence('phoenix.audit_checkpoints', 'id'));
    INSERT INTO phoenix.audit_checkpoints (id, at, cutoff, tasks, task_heads, agent_heads, deleted, prev_hash, hash)
        OVERRIDING SYSTEM VALUE
    VALUES (v_id, v_now, p_cutoff, v_n, v_task_heads, v_agent_heads, v_deleted, v_prev,
            phoenix.checkpoint_hash(v_prev, v_id, v_now, p_cutoff, v_n, v_task_heads, v_agent_heads, v_deleted));
    INSERT INTO phoenix.audit_chain_bases AS b (agent_to, seq, hash, checkpoint_id)
    SELECT key::uuid, (value ->> 0)::integer, decode(value ->> 1, 'hex'), v_id FROM jsonb_each(v_agent_heads)
    ON CONFLICT (agent_to) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, checkpoint_id = excluded.checkpoint_id;

    -- the guards are back for the rest of the caller's transaction
    PERFORM set_config('phoenix.pruning', 'off', true);
    SELECT coalesce(sum(value::bigint), 0) INTO v_rows FROM jsonb_each_text(v_deleted);
    RETURN jsonb_build_object('skipped', false, 'tasks', v_n, 'rows', v_rows, 'checkpoint', v_id, 'deleted', v_deleted,
                              'last_at', v_last_at, 'last_id', v_last_id);
END;
$$;
