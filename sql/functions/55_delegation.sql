-- Delegation (docs/concepts/delegation.md): a claimant splits its task into children, the task waits
-- holding no lease and no agent, and the children's final outcomes are counted on the parent row
-- (the join point) until the join is met or a child's failure decides it.
--
-- Locks: the tree's root first, as every transition that may settle a child (the board's lock
-- order is stated once, atop 19_locking.sql, with the tree locks and subtree cancellation).

-- Rates the delegator's choice once per parent attempt, when its join is decided, by the share of
-- settled children that completed (phoenix.trust_evidence 'delegation').
CREATE OR REPLACE FUNCTION phoenix.task_rate_delegator(p phoenix.tasks, p_now timestamptz, p_decided text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_settled integer := p.children_done + p.children_failed;
    v_share float8;
BEGIN
    IF p.delegated_by IS NULL OR v_settled = 0 THEN
        RETURN;
    END IF;
    v_share := p.children_done::float8 / v_settled;
    PERFORM phoenix.trust_rate(p.delegated_by, e.positive, e.negative, NULL, 'delegation', p.id, p_now,
                               jsonb_build_object('attempt', p.attempt, 'decided', p_decided,
                                                  'done', p.children_done, 'failed', p.children_failed,
                                                  'total', p.children_total))
       FROM phoenix.trust_evidence('delegation', v_share) AS e;
END;
$$;

-- Decides the join of a waiting parent whose row the caller has locked (and its tree's root).
-- Met (join_k children completed, or, under 'ignore', none left running): the live children are
-- cancelled and the parent goes back to the board, offered first to its delegator. A child failed
-- under 'fail': the live children are cancelled, and the parent is escalated once to the
-- delegator's supervisor (back on the board, offered to the supervisor first), or fails for good.
CREATE OR REPLACE FUNCTION phoenix.task_join_step(p_parent uuid, p_now timestamptz, p_child uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    p phoenix.tasks;
    v_need integer;
    v_live uuid[];
    v_supervisor uuid;
    v_decided text;
BEGIN
    SELECT * INTO p FROM phoenix.tasks WHERE id = p_parent;
    IF p.status <> 'waiting' THEN
        RETURN;
    END IF;
    v_need := coalesce(p.join_k, p.children_total);
    IF p.children_done >= v_need
       OR (p.on_child_failure = 'ignore' AND p.children_done + p.children_failed >= p.children_total) THEN
        v_decided := 'joined';
    ELSIF p.children_failed > 0 AND p.on_child_failure = 'fail' THEN
        SELECT s.id INTO v_supervisor
          FROM phoenix.agents d JOIN phoenix.agents s ON s.id = d.supervisor_agent
         WHERE d.id = p.delegated_by AND s.decommissioned_at IS NULL;
        v_decided := CASE WHEN v_supervisor IS NOT NULL AND p.escalated_to IS NULL THEN 'escalated' ELSE 'child_failed' END;
    ELSE
        RETURN;
    END IF;

    v_live := ARRAY(SELECT id FROM phoenix.tasks
                     WHERE parent_id = p.id AND status IN ('open', 'claimed', 'in_progress', 'review', 'waiting')
                     ORDER BY id);
    IF cardinality(v_live) > 0 THEN
        PERFORM phoenix.task_cancel_subtrees(v_live, NULL, format('parent %s %s', p.id, v_decided), p_now);
    END IF;

    IF v_decided = 'child_failed' THEN
        UPDATE phoenix.tasks
           SET status = 'failed', completed_at = p_now, preferred_until = NULL,
               last_error = format('child %s failed for good', p_child)
         WHERE id = p.id RETURNING * INTO p;
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
        VALUES (p.id, 'child_failed', NULL, p.attempt, p_now,
                jsonb_build_object('child', p_child, 'done', p.children_done, 'failed', p.children_failed,
                                   'total', p.children_total, 'final', true));
        PERFORM phoenix.task_fail_dependents(p.id, p_now);
        PERFORM phoenix.task_rate_delegator(p, p_now, v_decided);
        -- the failure travels up: this parent is itself a child of a waiting task
        IF p.parent_id IS NOT NULL THEN
            PERFORM phoenix.task_child_settled(p.id, p_now);
        END IF;
        RETURN;
    END IF;

    UPDATE phoenix.tasks
       SET status = 'open', available_at = p_now,
           claim_key = phoenix.claim_key(p_now, priority, hot_score, deadline),
           preferred_agents = CASE WHEN v_decided = 'escalated' THEN ARRAY[v_supervisor] ELSE ARRAY[p.delegated_by] END,
           preferred_until = p_now + make_interval(secs => phoenix.k_delegation_preferred_seconds()),
           escalated_to = CASE WHEN v_decided = 'escalated' THEN v_supervisor ELSE escalated_to END
     WHERE id = p.id RETURNING * INTO p;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p.id, v_decided, NULL, p.attempt, p_now,
            jsonb_build_object('child', p_child, 'done', p.children_done, 'failed', p.children_failed,
                               'total', p.children_total, 'offered_to', p.preferred_agents[1]));
    PERFORM phoenix.task_rate_delegator(p, p_now, v_decided);
END;
$$;

-- A child reached a final status (complete, failed, cancelled): count it on its parent and
-- decide the join. The caller holds the tree's root lock and has written the child's new status.
CREATE OR REPLACE FUNCTION phoenix.task_child_settled(p_child uuid, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c phoenix.tasks;
    v_waiting boolean;
BEGIN
    SELECT * INTO c FROM phoenix.tasks WHERE id = p_child;
    IF c.parent_id IS NULL THEN
        RETURN;
    END IF;
    -- only a waiting parent counts: once it left 'waiting' every child of it was settled or cancelled
    UPDATE phoenix.tasks
       SET children_done = children_done + (c.status = 'complete')::integer,
           children_failed = children_failed + (c.status <> 'complete')::integer
     WHERE id = c.parent_id AND status = 'waiting'
    RETURNING true INTO v_waiting;
    IF v_waiting THEN
        PERFORM phoenix.task_join_step(c.parent_id, p_now, p_child);
    END IF;
END;
$$;

-- The claimant splits its task (docs/concepts/delegation.md). p_children: a JSON array of objects with
-- title and optionally key, description, category, payload, priority, max_attempts,
-- fibonacci_size, review_quorum, dopamine_reward. A child's key defaults to its position; a key
-- this parent already used returns that child instead of creating another, so a retried attempt
-- that delegates again creates nothing twice (a settled child counts at once). p_join_k: how many
-- must complete (NULL: all). Returns the waiting parent (or, when the reused children already
-- met the join, the parent back on the board), the children in order, and how many were created.
CREATE OR REPLACE FUNCTION phoenix.task_delegate(
    p_task uuid, p_agent uuid, p_attempt integer, p_children jsonb, p_join_k integer, p_on_failure text,
    p_now timestamptz DEFAULT NULL,
    OUT task phoenix.tasks, OUT children uuid[], OUT created integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'delegate', '{claimed,in_progress}');
    a phoenix.agents := phoenix.agent_active(p_agent);
    v_n integer;
    v_root uuid := coalesce(t.root_id, t.id);
    v_descendants integer;
    v_done integer;
    v_failed integer;
    v_subordinates uuid[];
    v_new uuid[] := '{}';
    v_new_keys text[] := '{}';
    v_spec record;
    v_child phoenix.tasks;
    v_bad text;
BEGIN
    IF jsonb_typeof(p_children) IS DISTINCT FROM 'array' OR jsonb_array_length(p_children) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'children must be a non-empty list of tasks';
    END IF;
    v_n := jsonb_array_length(p_children);
    IF v_n > phoenix.k_delegation_children_max() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('%s children in one delegation; the limit is %s', v_n, phoenix.k_delegation_children_max()::integer);
    END IF;
    IF t.depth + 1 > phoenix.k_delegation_depth_max() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('task %s is at depth %s; delegation deeper than %s is refused', p_task, t.depth,
                             phoenix.k_delegation_depth_max()::integer);
    END IF;
    IF p_on_failure IS NULL OR p_on_failure NOT IN ('fail', 'ignore') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('on_failure must be fail or ignore, not %s', p_on_failure);
    END IF;
    IF p_join_k IS NOT NULL AND NOT (p_join_k BETWEEN 1 AND v_n) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('join must wait for between 1 and %s children, not %s', v_n, p_join_k);
    END IF;
    SELECT coalesce(c ->> 'key', ord::text) INTO v_bad
      FROM jsonb_array_elements(p_children) WITH ORDINALITY AS x (c, ord)
     WHERE jsonb_typeof(c) <> 'object' OR jsonb_typeof(c -> 'title') IS DISTINCT FROM 'string'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('child %s must be an object with a title', v_bad);
    END IF;
    SELECT k INTO v_bad
      FROM (SELECT coalesce(c ->> 'key', (ord - 1)::text) AS k
              FROM jsonb_array_elements(p_children) WITH ORDINALITY AS x (c, ord)) AS keys
     GROUP BY k HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('child key %s is given twice; keys must be unique', v_bad);
    END IF;

    -- children go to the delegator's subordinates first (docs/concepts/delegation.md, supervisors)
    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') INTO v_subordinates
      FROM phoenix.agents s WHERE s.id = ANY (a.subordinate_agents) AND s.decommissioned_at IS NULL AND s.team = t.team;

    -- in the order asked for; a key this parent already used creates nothing (task_insert)
    FOR v_spec IN SELECT x.c, coalesce(x.c ->> 'key', (x.ord - 1)::text) AS k
                    FROM jsonb_array_elements(p_children) WITH ORDINALITY AS x (c, ord) ORDER BY x.ord
    LOOP
        v_child := phoenix.task_insert(phoenix.task_new(
            v_spec.c ->> 'title', v_spec.c ->> 'description', coalesce(v_spec.c ->> 'category', t.category),
            v_spec.c -> 'payload', coalesce((v_spec.c ->> 'priority')::integer, t.priority), t.team, p_agent,
            coalesce((v_spec.c ->> 'dopamine_reward')::real, t.dopamine_reward),
            coalesce((v_spec.c ->> 'max_attempts')::integer, t.max_attempts),
            (v_spec.c ->> 'review_quorum')::integer, t.deadline, (v_spec.c ->> 'fibonacci_size')::integer, v_now,
            p_parent => t, p_child_key => v_spec.k, p_preferred_agents => v_subordinates,
            p_preferred_until => CASE WHEN cardinality(v_subordinates) > 0
                                      THEN v_now + make_interval(secs => phoenix.k_delegation_preferred_seconds()) END));
        IF v_child.id IS NOT NULL THEN
            v_new := v_new || v_child.id;
            v_new_keys := v_new_keys || v_child.child_key;
        END IF;
    END LOOP;
    created := cardinality(v_new);
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    SELECT n.id, 'submitted', p_agent, 0, v_now,
           jsonb_build_object('team', t.team, 'parent', t.id, 'root', v_root, 'depth', t.depth + 1, 'key', n.k)
      FROM unnest(v_new, v_new_keys) AS n (id, k);

    SELECT array_agg(c.id ORDER BY s.ord), count(*) FILTER (WHERE c.status = 'complete'),
           count(*) FILTER (WHERE c.status IN ('failed', 'cancelled'))
      INTO children, v_done, v_failed
      FROM (SELECT ord, coalesce(x.c ->> 'key', (ord - 1)::text) AS k
              FROM jsonb_array_elements(p_children) WITH ORDINALITY AS x (c, ord)) AS s
      JOIN phoenix.tasks c ON c.parent_id = t.id AND c.child_key = s.k;

    -- counted on the root row, which this transaction holds: the cap survives retries and resumes
    UPDATE phoenix.tasks SET descendants = descendants + created WHERE id = v_root
    RETURNING descendants INTO v_descendants;
    IF v_descendants > phoenix.k_delegation_descendants_max() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('root %s would have %s descendants; the limit is %s', v_root, v_descendants,
                             phoenix.k_delegation_descendants_max()::integer);
    END IF;

    UPDATE phoenix.tasks
       SET status = 'waiting', assigned_to = NULL, lease_expires_at = NULL, preferred_until = NULL,
           delegated_by = p_agent, join_k = p_join_k, on_child_failure = p_on_failure,
           children_total = v_n, children_done = v_done, children_failed = v_failed
     WHERE id = t.id RETURNING * INTO task;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (t.id, 'delegated', p_agent, t.attempt, v_now,
            jsonb_build_object('children', v_n, 'created', created, 'join_k', coalesce(p_join_k, v_n),
                               'on_failure', p_on_failure, 'offered_to', to_jsonb(v_subordinates)));
    IF v_done + v_failed > 0 THEN
        PERFORM phoenix.task_join_step(t.id, v_now);
        SELECT * INTO task FROM phoenix.tasks WHERE id = t.id;
    END IF;

    -- agents after tasks: the delegator is free, and the delegation is on its record
    PERFORM 1 FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    UPDATE phoenix.agents SET current_task = NULL, idle_since = v_now, last_heartbeat = v_now
     WHERE id = p_agent AND current_task = p_task;
    INSERT INTO phoenix.agent_interactions (agent_from, agent_to, interaction_type, task_id, trust_delta, metadata, at)
    VALUES (p_agent, p_agent, 'delegation', t.id, 0,
            jsonb_build_object('attempt', t.attempt, 'children', v_n, 'created', created,
                               'join_k', coalesce(p_join_k, v_n), 'on_failure', p_on_failure), v_now);
END;
$$;

-- Cancels a task and all its live descendants in one transaction (docs/concepts/delegation.md). An agent
-- may cancel a task it created or one below a task it created; the owner role any (p_agent NULL).
-- A cancelled child counts as failed for its waiting parent. Returns the task and how many tasks
-- were cancelled.
CREATE OR REPLACE FUNCTION phoenix.task_cancel(
    p_task uuid, p_agent uuid, p_reason text, p_now timestamptz DEFAULT NULL,
    OUT task phoenix.tasks, OUT cancelled integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
BEGIN
    IF p_agent IS NULL THEN
        IF NOT phoenix.caller_is_owner() THEN
            RAISE EXCEPTION USING ERRCODE = 'PBFB0',
                MESSAGE = format('role %s must name the agent that cancels task %s', phoenix.invoker(), p_task);
        END IF;
    ELSE
        PERFORM phoenix.agent_active(p_agent);
    END IF;
    task := phoenix.task_lock(p_task);
    IF p_agent IS NOT NULL AND NOT EXISTS (
        WITH RECURSIVE up AS (
            SELECT id, parent_id, created_by FROM phoenix.tasks WHERE id = p_task
            UNION ALL
            SELECT t.id, t.parent_id, t.created_by FROM phoenix.tasks t JOIN up ON t.id = up.parent_id
        )
        SELECT 1 FROM up WHERE created_by = p_agent) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('agent %s may cancel only tasks it created or their descendants, not task %s', p_agent, p_task);
    END IF;
    IF task.status IN ('complete', 'failed', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot cancel task %s: it is already %s', p_task, task.status);
    END IF;
    cancelled := phoenix.task_cancel_subtrees(ARRAY[p_task], p_agent, coalesce(p_reason, 'cancelled'), v_now);
    PERFORM phoenix.task_child_settled(p_task, v_now);
    SELECT * INTO task FROM phoenix.tasks WHERE id = p_task;
END;
$$;

-- The children of a task with their outcomes, in the order they were asked for: what the handler
-- of a task that comes back from a join reads. Its claimant, its delegator and the owner may read.
CREATE OR REPLACE FUNCTION phoenix.task_children(p_task uuid, p_agent uuid)
RETURNS TABLE (id uuid, child_key text, title text, category text, status phoenix.task_status,
               assigned_to uuid, attempt integer, output jsonb, quality_score real, last_error text,
               completed_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p phoenix.tasks;
BEGIN
    IF p_agent IS NULL THEN
        IF NOT phoenix.caller_is_owner() THEN
            RAISE EXCEPTION USING ERRCODE = 'PBFB0', MESSAGE = 'name the agent that reads the children';
        END IF;
    ELSE
        PERFORM phoenix.act_as(p_agent);
    END IF;
    SELECT * INTO p FROM phoenix.tasks t WHERE t.id = p_task;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('task %s not found', p_task);
    END IF;
    IF p_agent IS NOT NULL AND p_agent IS DISTINCT FROM p.assigned_to AND p_agent IS DISTINCT FROM p.delegated_by THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('agent %s neither holds nor delegated task %s, so it may not read its children', p_agent, p_task);
    END IF;
    RETURN QUERY
        SELECT c.id, c.child_key, c.title, c.category, c.status, c.assigned_to, c.attempt, c.output,
               c.quality_score, c.last_error, c.completed_at
          FROM phoenix.tasks c WHERE c.parent_id = p_task
         -- default keys are positions: in number order, not text order
         ORDER BY c.created_at, CASE WHEN c.child_key ~ '^[0-9]{1,9}$' THEN c.child_key::integer END, c.child_key;
END;
$$;
