-- Task locking (docs/concepts/concurrency.md): the functions every transition takes its
-- task locks through, and the two that lock whole sets of tasks (dependents, subtrees).
--
-- THE LOCK ORDER (stated here only; every other file points here):
--   1. Task rows before agent rows.
--   2. Among tasks: a transition that can settle, delegate or cancel a task locks the root row of
--      the task's delegation tree first (task_lock_tree; a task outside a tree is its own root),
--      then the task it moves (task_lock, task_lock_claim), then the other tasks it touches: rows
--      of the same tree in any order (holding the root serialises the tree's structural changes,
--      so a cancel sees every descendant and a child's completion can lock its parent, a lower id,
--      without deadlocking against a cancel or a sibling), and the tasks that depend on it in id
--      order (task_completed, task_fail_dependents). A submission locks the tasks it depends on in
--      id order before it inserts its row. A renewal or a start, which settle nothing, lock only
--      the task; so do a vote and a comment.
--   3. Among agents: id order (phoenix.agents_lock, the lease sweeper's outcomes, a cancel freeing
--      its agents); a review locks every agent row it writes, in id order, before its first write.
--   Exceptions, none of which can wait in a cycle: a claim locks its own agent row, then takes a
--   task with SKIP LOCKED (it never waits on a task); the lease sweeper and the review deadline
--   take roots and tasks with SKIP LOCKED; a hormone cascade locks only agents, in id order,
--   trying NOWAIT first (61_hormone_cascade.sql); a claim takes flow control's concurrency and rate
--   slots with SKIP LOCKED, and a result locks its gate rows last (16_claim_gates.sql).
-- A transition locks the task it moves and agent rows FOR NO KEY UPDATE, the lock their UPDATE takes
-- anyway: FOR UPDATE would also conflict with the key-share locks PostgreSQL takes for foreign keys,
-- which no function orders.

-- Locks the root row of p_task's tree, if p_task is in one below its root; a root is locked by
-- the caller's own lock of the task.
CREATE OR REPLACE FUNCTION phoenix.task_lock_tree(p_task uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_root uuid;
BEGIN
    -- root_id never changes, so it may be read before the lock
    SELECT root_id INTO v_root FROM phoenix.tasks WHERE id = p_task;
    IF v_root IS NOT NULL THEN
        PERFORM 1 FROM phoenix.tasks WHERE id = v_root FOR NO KEY UPDATE;
    END IF;
END;
$$;

-- Locks a task for a transition: its tree's root first when p_tree (a transition that may settle a
-- child or change the tree), then the task; NotFound when there is none.
CREATE OR REPLACE FUNCTION phoenix.task_lock(p_task uuid, p_tree boolean DEFAULT true)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    t phoenix.tasks;
BEGIN
    IF p_tree THEN
        PERFORM phoenix.task_lock_tree(p_task);
    END IF;
    -- NO KEY UPDATE, the lock the transition's UPDATE takes anyway: FOR UPDATE would also block the
    -- key-share lock that writing an agent row whose current_task is this task takes, and a
    -- review writing that agent deadlocked with the agent's own transition (docs/concepts/concurrency.md)
    SELECT * INTO t FROM phoenix.tasks WHERE id = p_task FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('task %s not found', p_task);
    END IF;
    RETURN t;
END;
$$;

-- Locks a task for a transition made by its claimant and checks the fencing token. Raises the
-- precise refusal: not found, stale claim (another attempt is current), not the claimant, or a
-- status that does not allow the action.
CREATE OR REPLACE FUNCTION phoenix.task_lock_claim(
    p_task uuid, p_agent uuid, p_attempt integer, p_action text, p_allowed phoenix.task_status[])
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    t phoenix.tasks;
BEGIN
    PERFORM phoenix.act_as(p_agent);
    -- a transition that may settle a child takes its tree's root first (docs/concepts/delegation.md);
    -- renewing and starting never do, so they leave the root alone
    t := phoenix.task_lock(p_task, p_action NOT IN ('renew', 'start'));
    IF p_attempt > t.attempt THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot %s task %s: it is %s at attempt %s, so attempt %s was never claimed; claim it first',
                             p_action, p_task, t.status, t.attempt, p_attempt);
    END IF;
    IF t.attempt <> p_attempt THEN
        RAISE EXCEPTION USING ERRCODE = 'PBSC0',
            MESSAGE = format('cannot %s task %s: attempt %s is stale (the task is at attempt %s, %s); drop this work',
                             p_action, p_task, p_attempt, t.attempt, t.status);
    END IF;
    IF t.assigned_to IS DISTINCT FROM p_agent AND t.status IN ('claimed', 'in_progress') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNC0',
            MESSAGE = format('cannot %s task %s: agent %s does not hold its claim', p_action, p_task, p_agent);
    END IF;
    IF NOT (t.status = ANY (p_allowed)) THEN
        IF t.status IN ('open', 'review', 'complete', 'failed', 'waiting', 'cancelled') THEN
            -- this attempt moved on: its lease expired and it was released, it already finished,
            -- it delegated, or the task was cancelled
            RAISE EXCEPTION USING ERRCODE = 'PBSC0',
                MESSAGE = format('cannot %s task %s: attempt %s is over (the task is %s)', p_action, p_task, p_attempt, t.status);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot %s task %s: it is %s', p_action, p_task, t.status);
    END IF;
    RETURN t;
END;
$$;

-- Fails, for good, the open tasks that depend (transitively) on p_task, which has ended without
-- completing (failed or cancelled): they could never run. Each names the dependency it waited on
-- and how that ended, so "dependency X was cancelled" leads to the task that was.
CREATE OR REPLACE FUNCTION phoenix.task_fail_dependents(p_task uuid, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_dep record;
    v_ended phoenix.task_status;
BEGIN
    SELECT status INTO v_ended FROM phoenix.tasks WHERE id = p_task;
    FOR v_dep IN
        WITH RECURSIVE dependents (id, via) AS (
            SELECT l.task_id, p_task FROM phoenix.task_dependencies l WHERE l.depends_on = p_task
            UNION
            SELECT l.task_id, l.depends_on FROM phoenix.task_dependencies l JOIN dependents ON l.depends_on = dependents.id
        ), first_via AS (
            SELECT id, min(via::text)::uuid AS via FROM dependents GROUP BY id
        )
        SELECT d.id, d.attempt, f.via FROM phoenix.tasks d JOIN first_via f USING (id)
         WHERE d.status = 'open' ORDER BY d.id FOR UPDATE OF d
    LOOP
        UPDATE phoenix.tasks
           SET status = 'failed', completed_at = p_now,
               last_error = format('dependency %s %s', v_dep.via,
                                   CASE WHEN v_dep.via = p_task AND v_ended = 'cancelled' THEN 'was cancelled' ELSE 'failed' END)
         WHERE id = v_dep.id;
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
        VALUES (v_dep.id, 'dependency_failed', NULL, v_dep.attempt, p_now,
                jsonb_build_object('dependency', v_dep.via,
                                   'ended', CASE WHEN v_dep.via = p_task THEN v_ended ELSE 'failed' END));
    END LOOP;
END;
$$;

-- Cancels the live tasks among p_tasks and all their live descendants. The caller holds the
-- tree's root lock. Agents working a cancelled task are freed; their late result is refused as
-- stale (the attempt is over). Returns how many tasks were cancelled.
CREATE OR REPLACE FUNCTION phoenix.task_cancel_subtrees(p_tasks uuid[], p_by uuid, p_reason text, p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v record;
    v_agents uuid[] := '{}';
    v_tasks uuid[] := '{}';
    n integer := 0;
BEGIN
    FOR v IN
        WITH RECURSIVE sub AS (
            SELECT id FROM phoenix.tasks WHERE id = ANY (p_tasks)
            UNION
            SELECT c.id FROM phoenix.tasks c JOIN sub ON c.parent_id = sub.id
        )
        SELECT t.id, t.attempt, t.assigned_to, t.status FROM phoenix.tasks t JOIN sub USING (id)
         WHERE t.status IN ('open', 'claimed', 'in_progress', 'review', 'waiting')
         ORDER BY t.id FOR UPDATE OF t
    LOOP
        UPDATE phoenix.tasks
           SET status = 'cancelled', assigned_to = NULL, lease_expires_at = NULL, completed_at = p_now,
               preferred_until = NULL, last_error = left(p_reason, 1000)
         WHERE id = v.id;
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
        VALUES (v.id, 'cancelled', p_by, v.attempt, p_now,
                jsonb_build_object('reason', left(p_reason, 1000), 'was', v.status));
        IF v.status IN ('claimed', 'in_progress') THEN
            v_agents := v_agents || v.assigned_to;
            v_tasks := v_tasks || v.id;
        END IF;
        PERFORM phoenix.task_fail_dependents(v.id, p_now);
        n := n + 1;
    END LOOP;
    -- agents after tasks, in id order
    UPDATE phoenix.agents a SET current_task = NULL, idle_since = p_now
      FROM (SELECT id FROM phoenix.agents WHERE id = ANY (v_agents) ORDER BY id FOR NO KEY UPDATE) AS l
     WHERE a.id = l.id AND a.current_task = ANY (v_tasks);
    RETURN n;
END;
$$;
