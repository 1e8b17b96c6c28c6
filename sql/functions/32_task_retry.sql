-- Retry (docs/operations/retry.md): an operator puts a failed or cancelled task back on the board
-- with a fresh attempt budget, and the tasks that failed only because of it come back with it.
--
-- Locks (the order atop 19_locking.sql): the task's tree root, then the task (phoenix.task_lock),
-- then the rest of its tree in id order, then the tasks that depend on any of them, in id order.
-- No agent row is touched: a failed or cancelled task has no live claim.

-- Back to the board: open, claimable now, with a fresh attempt budget. The attempt number (the
-- fencing token) keeps counting; attempts_before moves up to it, so max_attempts counts anew.
-- A stale worker of an earlier attempt is still refused (its attempt is not the current one).
CREATE OR REPLACE FUNCTION phoenix.task_reopen(p_task uuid, p_kind text, p_detail jsonb, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t phoenix.tasks;
BEGIN
    UPDATE phoenix.tasks
       SET status = 'open', attempts_before = attempt, assigned_to = NULL, lease_expires_at = NULL,
           completed_at = NULL, last_error = NULL, preferred_until = NULL,
           available_at = p_now, claim_key = phoenix.claim_key(p_now, priority, hot_score, deadline)
     WHERE id = p_task RETURNING * INTO t;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p_task, p_kind, NULL, t.attempt, p_now, p_detail);
END;
$$;

-- Revives the failed tasks that depend (transitively) on p_tasks, which have just come back to
-- the board, when they failed only because of a dependency: their last event is
-- 'dependency_failed' (no attempt of theirs ran since), and no dependency of theirs is still
-- failed or cancelled. Delegated children are left alone (their tree's root is what is retried).
-- Returns how many came back.
CREATE OR REPLACE FUNCTION phoenix.task_revive_dependents(p_tasks uuid[], p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v record;
    v_frontier uuid[] := p_tasks;
    v_next uuid[];
    n integer := 0;
BEGIN
    -- every failed task that could come back, locked at once in id order
    PERFORM 1 FROM phoenix.tasks
     WHERE id IN (WITH RECURSIVE dependents (id) AS (
                      SELECT l.task_id FROM phoenix.task_dependencies l WHERE l.depends_on = ANY (p_tasks)
                      UNION
                      SELECT l.task_id FROM phoenix.task_dependencies l JOIN dependents d ON l.depends_on = d.id)
                  SELECT id FROM dependents)
       AND status = 'failed'
     ORDER BY id FOR NO KEY UPDATE;
    -- then wave by wave: a dependent comes back once the dependency it failed through has
    LOOP
        v_next := '{}';
        FOR v IN
            SELECT d.id,
                   (SELECT min(l.depends_on::text)::uuid FROM phoenix.task_dependencies l
                     WHERE l.task_id = d.id AND l.depends_on = ANY (v_frontier)) AS via
              FROM phoenix.tasks d
             WHERE d.id IN (SELECT task_id FROM phoenix.task_dependencies WHERE depends_on = ANY (v_frontier))
               AND d.status = 'failed' AND d.parent_id IS NULL
               AND (SELECT e.kind FROM phoenix.task_events e WHERE e.task_id = d.id ORDER BY e.seq DESC LIMIT 1)
                   = 'dependency_failed'
               AND NOT EXISTS (SELECT 1 FROM phoenix.task_dependencies l JOIN phoenix.tasks x ON x.id = l.depends_on
                                WHERE l.task_id = d.id AND x.status IN ('failed', 'cancelled'))
             ORDER BY d.id
        LOOP
            PERFORM phoenix.task_reopen(v.id, 'revived', jsonb_build_object('dependency', v.via), p_now);
            v_next := v_next || v.id;
            n := n + 1;
        END LOOP;
        EXIT WHEN cardinality(v_next) = 0;
        v_frontier := v_next;
    END LOOP;
    RETURN n;
END;
$$;

-- Retries a failed or cancelled task (the operator only). A delegation tree is retried from its
-- root: the root and every failed or cancelled task below it come back (completed children stay
-- complete, and the root's next delegation with the same keys finds them and their results); a
-- child alone is refused, since its parent's join has already counted it. A task whose own
-- dependency is still failed or cancelled is refused too: it could never be claimed; retrying the
-- dependency brings it back. Returns the task, how many tasks of its tree came back (itself
-- included) and how many dependents were revived.
CREATE OR REPLACE FUNCTION phoenix.task_retry(
    p_task uuid, p_reason text, p_now timestamptz DEFAULT NULL,
    OUT task phoenix.tasks, OUT retried integer, OUT revived integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v record;
    v_dep record;
    v_back uuid[] := '{}';
BEGIN
    IF NOT phoenix.caller_is_owner() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('role %s may not retry task %s; only the operator retries tasks', phoenix.invoker(), p_task);
    END IF;
    task := phoenix.task_lock(p_task);
    IF task.parent_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot retry task %s: it is a delegated child of %s; retry its tree''s root %s, which brings back the failed tasks below it',
                             p_task, task.parent_id, task.root_id);
    END IF;
    IF task.status NOT IN ('failed', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot retry task %s: it is %s; only a failed or cancelled task can be retried', p_task, task.status);
    END IF;
    SELECT x.id, x.status INTO v_dep
      FROM phoenix.task_dependencies l JOIN phoenix.tasks x ON x.id = l.depends_on
     WHERE l.task_id = p_task AND x.status IN ('failed', 'cancelled') ORDER BY x.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot retry task %s: its dependency %s is %s; retry that one, which brings this one back',
                             p_task, v_dep.id, v_dep.status);
    END IF;
    -- the task and the failed or cancelled tasks of its tree, in id order (the root is held)
    FOR v IN
        WITH RECURSIVE sub AS (
            SELECT p_task AS id
            UNION
            SELECT c.id FROM phoenix.tasks c JOIN sub ON c.parent_id = sub.id
        )
        SELECT t.id, t.status, t.attempt, t.last_error FROM phoenix.tasks t JOIN sub USING (id)
         WHERE t.status IN ('failed', 'cancelled')
         ORDER BY t.id FOR NO KEY UPDATE OF t
    LOOP
        PERFORM phoenix.task_reopen(v.id, 'retried',
            jsonb_build_object('reason', left(coalesce(p_reason, 'retried'), 1000), 'was', v.status,
                               'error', v.last_error, 'root', CASE WHEN v.id <> p_task THEN p_task END),
            v_now);
        v_back := v_back || v.id;
    END LOOP;
    retried := cardinality(v_back);
    revived := phoenix.task_revive_dependents(v_back, v_now);
    SELECT * INTO task FROM phoenix.tasks WHERE id = p_task;
END;
$$;
