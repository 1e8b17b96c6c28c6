-- The lease sweeper: claims whose lease expired go back to the board (or fail for good when no
-- attempt is left), counted as a failed attempt of the agent that let them expire. SKIP LOCKED
-- and a batch limit, so two sweepers share the work and never wait on a live transition.
-- Returns the released tasks.
CREATE OR REPLACE FUNCTION phoenix.task_release_expired(p_now timestamptz DEFAULT NULL, p_limit integer DEFAULT 1000)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_ids uuid[];
    v_agents uuid[];
    v_id uuid;
    v record;
    t phoenix.tasks;
    i integer;
BEGIN
    -- tasks outside a tree (and roots): one batch, locked together
    SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(assigned_to ORDER BY id), '{}')
      INTO v_ids, v_agents
      FROM (SELECT id, assigned_to FROM phoenix.tasks
             WHERE status IN ('claimed', 'in_progress') AND lease_expires_at < v_now AND root_id IS NULL
             ORDER BY lease_expires_at, id
             LIMIT p_limit
               FOR NO KEY UPDATE SKIP LOCKED) AS expired;
    FOREACH v_id IN ARRAY v_ids LOOP
        SELECT * INTO t FROM phoenix.tasks WHERE id = v_id;
        t := phoenix.task_attempt_failed(v_id, t.assigned_to, format('lease expired at %s', t.lease_expires_at),
                                         'lease_expired', v_now);
        RETURN NEXT t;
    END LOOP;
    -- tasks in a tree: the root first (docs/concepts/delegation.md), each skipped while busy, since a
    -- final failure settles the child on its parent
    FOR v IN SELECT id, root_id FROM phoenix.tasks
              WHERE status IN ('claimed', 'in_progress') AND lease_expires_at < v_now AND root_id IS NOT NULL
              ORDER BY lease_expires_at, id
              LIMIT greatest(p_limit - cardinality(v_ids), 0)
    LOOP
        PERFORM 1 FROM phoenix.tasks WHERE id = v.root_id FOR NO KEY UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        SELECT * INTO t FROM phoenix.tasks
         WHERE id = v.id AND status IN ('claimed', 'in_progress') AND lease_expires_at < v_now
           FOR NO KEY UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        v_ids := v_ids || t.id;
        v_agents := v_agents || t.assigned_to;
        t := phoenix.task_attempt_failed(t.id, t.assigned_to, format('lease expired at %s', t.lease_expires_at),
                                         'lease_expired', v_now);
        RETURN NEXT t;
    END LOOP;
    -- every task first, then the agents (the board's lock order, atop 19_locking.sql)
    FOR i IN SELECT ord FROM unnest(v_agents) WITH ORDINALITY AS x (agent, ord) ORDER BY agent LOOP
        PERFORM phoenix.agent_outcome(v_agents[i], v_ids[i], false, NULL, NULL, NULL, true, 'lease expired', v_now);
    END LOOP;
END;
$$;
