-- The claimant keeps its claim alive and starts it (both lock through phoenix.task_lock_claim,
-- 19_locking.sql).

-- Renew the lease of a live claim.
CREATE OR REPLACE FUNCTION phoenix.task_renew(
    p_task uuid, p_agent uuid, p_attempt integer, p_lease_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'renew', '{claimed,in_progress}');
BEGIN
    UPDATE phoenix.tasks SET lease_expires_at = v_now + phoenix.lease(p_lease_seconds)
     WHERE id = p_task RETURNING * INTO t;
    UPDATE phoenix.agents SET last_heartbeat = v_now WHERE id = p_agent;
    RETURN t;
END;
$$;

-- Renew the leases of many claims in one statement: those of the agents a thread pool's process
-- holds (workers/runtime.py, Renewer), every third of a lease, where one transaction per claim
-- cost a thousand agents on long tasks a hundred transactions a second. The pool's holder token
-- stands for the acting agent, as in agents_heartbeat (29_agents.sql): a claim is renewed only if
-- its agent is held with it, and only while its attempt is live (the fencing of task_renew).
-- Tasks are locked in id order, then the agents (the board's lock order, atop 19_locking.sql).
-- Returns the claims not renewed, each with why: their work is lost.
CREATE OR REPLACE FUNCTION phoenix.task_renew_held(
    p_holder uuid, p_tasks uuid[], p_agents uuid[], p_attempts integer[], p_lease_seconds float8,
    p_now timestamptz DEFAULT NULL)
RETURNS TABLE (task_id uuid, agent_id uuid, attempt integer, lost text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_until timestamptz := v_now + phoenix.lease(p_lease_seconds);
    v_acting uuid := phoenix.acting_agent();
    -- the claims renewed, (task, agent, attempt) in three lists
    v_tasks uuid[];
    v_agents uuid[];
    v_attempts integer[];
BEGIN
    IF p_holder IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'renewing many claims needs the holder token of their pool';
    END IF;
    IF cardinality(p_tasks) IS DISTINCT FROM cardinality(p_agents)
       OR cardinality(p_tasks) IS DISTINCT FROM cardinality(p_attempts) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'tasks, agents and attempts must be lists of the same length';
    END IF;
    -- a transaction that names its acting agent renews that agent's claims only
    IF v_acting IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(p_agents) AS a WHERE a IS DISTINCT FROM v_acting) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('this transaction acts for agent %s (phoenix.agent_id), not for the other agents given', v_acting);
    END IF;
    WITH claims AS (
        SELECT c.task, c.agent, c.attempt
          FROM unnest(p_tasks, p_agents, p_attempts) AS c (task, agent, attempt)
          JOIN phoenix.agents a ON a.id = c.agent AND a.holder = p_holder AND a.decommissioned_at IS NULL),
    live AS (
        SELECT t.id FROM phoenix.tasks t JOIN claims c ON c.task = t.id
         WHERE t.assigned_to = c.agent AND t.attempt = c.attempt AND t.status IN ('claimed', 'in_progress')
         ORDER BY t.id
           FOR NO KEY UPDATE OF t),
    renewed AS (
        UPDATE phoenix.tasks t SET lease_expires_at = v_until FROM live WHERE t.id = live.id
        RETURNING t.id, t.assigned_to, t.attempt)
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.assigned_to), '{}'), coalesce(array_agg(r.attempt), '{}')
      INTO v_tasks, v_agents, v_attempts FROM renewed r;
    PERFORM 1 FROM phoenix.agents a WHERE a.id = ANY (v_agents) ORDER BY a.id FOR NO KEY UPDATE;
    UPDATE phoenix.agents a SET last_heartbeat = v_now WHERE a.id = ANY (v_agents) AND a.last_heartbeat < v_now;
    -- every other claim given, and why it was not renewed
    RETURN QUERY
    SELECT c.task, c.agent, c.attempt,
           CASE WHEN a.id IS NULL THEN format('agent %s is not registered', c.agent)
                WHEN a.holder IS DISTINCT FROM p_holder THEN format('agent %s is no longer held by this pool', a.codename)
                WHEN a.decommissioned_at IS NOT NULL THEN format('agent %s is decommissioned', a.codename)
                WHEN t.id IS NULL THEN format('task %s not found', c.task)
                ELSE format('attempt %s of task %s is over (the task is %s at attempt %s%s)', c.attempt, c.task,
                            t.status, t.attempt,
                            CASE WHEN t.assigned_to IS DISTINCT FROM c.agent THEN ', not held by this agent' ELSE '' END)
           END
      FROM unnest(p_tasks, p_agents, p_attempts) AS c (task, agent, attempt)
      LEFT JOIN phoenix.agents a ON a.id = c.agent
      LEFT JOIN phoenix.tasks t ON t.id = c.task
     WHERE NOT EXISTS (SELECT 1 FROM unnest(v_tasks, v_agents, v_attempts) AS r (task, agent, attempt)
                        WHERE r.task = c.task AND r.agent = c.agent AND r.attempt = c.attempt);
END;
$$;

-- Mark a claimed task as started (also renews the lease).
CREATE OR REPLACE FUNCTION phoenix.task_start(
    p_task uuid, p_agent uuid, p_attempt integer, p_lease_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'start', '{claimed}');
BEGIN
    UPDATE phoenix.tasks
       SET status = 'in_progress', started_at = v_now, lease_expires_at = v_now + phoenix.lease(p_lease_seconds)
     WHERE id = p_task RETURNING * INTO t;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at) VALUES (p_task, 'started', p_agent, t.attempt, v_now);
    RETURN t;
END;
$$;
