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
