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
