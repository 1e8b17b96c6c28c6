-- Agent registry (README "Agents").

-- Register a new agent, or re-attach to the one with this codename (a restarted worker keeps its
-- identity, counters and trust). A decommissioned agent comes back into service.
CREATE OR REPLACE FUNCTION phoenix.agent_register(
    p_codename text, p_team text, p_role text, p_specialization text[], p_now timestamptz DEFAULT NULL,
    OUT agent phoenix.agents, OUT created boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
BEGIN
    INSERT INTO phoenix.agents (codename, team, role, specialization, created_at, last_heartbeat, idle_since, hormones_at)
    VALUES (p_codename, p_team, coalesce(p_role, 'worker'), coalesce(p_specialization, '{}'), v_now, v_now, v_now, v_now)
    ON CONFLICT (codename) DO NOTHING
    RETURNING * INTO agent;
    IF FOUND THEN
        created := true;
        RETURN;
    END IF;
    SELECT * INTO agent FROM phoenix.agents WHERE codename = p_codename FOR UPDATE;
    IF agent.team <> p_team THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s is registered on team %s, not %s; use another codename', p_codename, agent.team, p_team);
    END IF;
    UPDATE phoenix.agents
       SET decommissioned_at = NULL, last_heartbeat = v_now,
           role = coalesce(p_role, role), specialization = coalesce(p_specialization, specialization)
     WHERE id = agent.id
    RETURNING * INTO agent;
    created := false;
END;
$$;

CREATE OR REPLACE FUNCTION phoenix.agent_heartbeat(p_agent uuid, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents := phoenix.agent_active(p_agent);
BEGIN
    UPDATE phoenix.agents SET last_heartbeat = phoenix.clock(p_now) WHERE id = p_agent RETURNING * INTO a;
    RETURN a;
END;
$$;

-- Take an agent out of service. A claim it still holds goes back to the board as a failed
-- attempt (its work is lost), exactly as if its lease had expired.
CREATE OR REPLACE FUNCTION phoenix.agent_decommission(p_agent uuid, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    a phoenix.agents := phoenix.agent_active(p_agent);
    t phoenix.tasks;
BEGIN
    IF a.current_task IS NOT NULL THEN
        PERFORM phoenix.task_lock_tree(a.current_task);
    END IF;
    SELECT * INTO t FROM phoenix.tasks
     WHERE id = a.current_task AND assigned_to = p_agent AND status IN ('claimed', 'in_progress') FOR UPDATE;
    IF FOUND THEN
        PERFORM phoenix.task_attempt_failed(t.id, p_agent, 'agent decommissioned', 'released', v_now);
        PERFORM phoenix.agent_outcome(p_agent, t.id, false, NULL, NULL, NULL, false, 'agent decommissioned', v_now);
    END IF;
    UPDATE phoenix.agents SET decommissioned_at = v_now, current_task = NULL, idle_since = NULL
     WHERE id = p_agent RETURNING * INTO a;
    RETURN a;
END;
$$;
