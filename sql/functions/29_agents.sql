-- Agent registry (docs/guide.md).

-- The acting agent, which this transaction must act for (phoenix.act_as), and which must exist
-- and not be decommissioned.
CREATE OR REPLACE FUNCTION phoenix.agent_active(p_agent uuid)
RETURNS phoenix.agents
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM phoenix.act_as(p_agent);
    RETURN phoenix.agent_in_service(p_agent);
END;
$$;

-- An agent that exists and is not decommissioned (NotFound, Forbidden), whoever asks: the
-- operator's functions (pairing, supervision, cascades) act for nobody.
CREATE OR REPLACE FUNCTION phoenix.agent_in_service(p_agent uuid)
RETURNS phoenix.agents
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a phoenix.agents;
BEGIN
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agent %s not found; register it first', p_agent);
    END IF;
    IF a.decommissioned_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('agent %s (%s) is decommissioned; register it again to use it', a.codename, p_agent);
    END IF;
    RETURN a;
END;
$$;

-- Register a new agent, or re-attach to the one with this codename (a restarted worker keeps its
-- identity, counters and trust).
--
-- Re-attaching changes an existing agent, so it acts only for the caller (docs/concepts/security.md): an
-- agent-role session must name that agent (phoenix.act_as), and only the operator (the owner)
-- brings a decommissioned agent back. A process that attaches with a holder token holds the agent
-- (migration 0008): while another token's hold is live (a heartbeat within ACTIVE_AGENT_SECONDS),
-- it is refused, whoever calls; the same token (a pool's replacement process) re-attaches. The
-- operator's registration (no token) takes no hold.
CREATE OR REPLACE FUNCTION phoenix.agent_register(
    p_codename text, p_team text, p_role text, p_specialization text[], p_holder uuid DEFAULT NULL,
    p_now timestamptz DEFAULT NULL, OUT agent phoenix.agents, OUT created boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_since float8;
BEGIN
    INSERT INTO phoenix.agents (codename, team, role, specialization, created_at, last_heartbeat, idle_since, hormones_at,
                                holder)
    VALUES (p_codename, p_team, coalesce(p_role, 'worker'), coalesce(p_specialization, '{}'), v_now, v_now, v_now, v_now,
            p_holder)
    ON CONFLICT (codename) DO NOTHING
    RETURNING * INTO agent;
    IF FOUND THEN
        created := true;
        RETURN;
    END IF;
    SELECT * INTO agent FROM phoenix.agents WHERE codename = p_codename FOR UPDATE;
    -- a member's codename is a person's: no process attaches to it (board/members.py)
    IF agent.kind = 'member' THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('%s is a member (a person), not an agent; give this agent another codename', p_codename);
    END IF;
    IF agent.team <> p_team THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s is registered on team %s, not %s; use another codename', p_codename, agent.team, p_team);
    END IF;
    PERFORM phoenix.act_as(agent.id);
    IF agent.decommissioned_at IS NOT NULL AND NOT phoenix.caller_is_owner() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('agent %s is decommissioned; only an operator brings it back (phoenix-board agents register '
                             '%s --team %s, with the owner''s login)', p_codename, p_codename, agent.team);
    END IF;
    v_since := extract(epoch FROM v_now - agent.last_heartbeat);
    IF p_holder IS NOT NULL AND agent.holder IS NOT NULL AND agent.holder <> p_holder
       AND agent.decommissioned_at IS NULL AND v_since < phoenix.k_active_agent_seconds() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s is held by another live process (last heartbeat %s s ago); give this pool another '
                             '--name, or stop the other one (its hold lapses %s s after its last heartbeat)',
                             p_codename, round(v_since::numeric, 1), phoenix.k_active_agent_seconds());
    END IF;
    UPDATE phoenix.agents
       SET decommissioned_at = NULL, last_heartbeat = v_now, holder = coalesce(p_holder, holder),
           role = coalesce(p_role, role), specialization = coalesce(p_specialization, specialization)
     WHERE id = agent.id
    RETURNING * INTO agent;
    created := false;
END;
$$;

-- The agent is alive; with a holder token, the hold is renewed, and refused if another process
-- took the agent meanwhile (this one's hold had lapsed): that process must stop acting for it.
CREATE OR REPLACE FUNCTION phoenix.agent_heartbeat(p_agent uuid, p_holder uuid DEFAULT NULL, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents := phoenix.agent_active(p_agent);
BEGIN
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent FOR UPDATE;
    IF p_holder IS NOT NULL AND a.holder IS NOT NULL AND a.holder <> p_holder THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s is held by another process now (this one''s hold lapsed); stop acting for it',
                             a.codename);
    END IF;
    UPDATE phoenix.agents SET last_heartbeat = phoenix.clock(p_now), holder = coalesce(p_holder, holder)
     WHERE id = p_agent RETURNING * INTO a;
    RETURN a;
END;
$$;

-- One heartbeat for every agent a thread pool's process holds (workers/thread_agents.py): one
-- statement per round, not one per agent. It renews the agents this token holds (or that no
-- process holds: a clean exit released them) and returns the ids it did not renew (another
-- process took them, decommissioned, unknown): the process must stop acting for those. The token
-- is what the pool holds its agents by, so the call names no acting agent. Agent rows are locked
-- in id order (the lock order, 19_locking.sql).
CREATE OR REPLACE FUNCTION phoenix.agents_heartbeat(p_agents uuid[], p_holder uuid)
RETURNS SETOF uuid
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_holder IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'a heartbeat for many agents needs the holder token of their pool';
    END IF;
    RETURN QUERY
    WITH mine AS (
        SELECT id FROM phoenix.agents
         WHERE id = ANY (p_agents) AND (holder IS NULL OR holder = p_holder) AND decommissioned_at IS NULL
         ORDER BY id FOR NO KEY UPDATE),
    beat AS (
        UPDATE phoenix.agents a SET last_heartbeat = now(), holder = p_holder
          FROM mine WHERE a.id = mine.id RETURNING a.id)
    SELECT u FROM unnest(p_agents) AS u WHERE u NOT IN (SELECT id FROM beat);
END;
$$;

-- A clean exit frees the hold at once, so the pool's next start re-attaches without waiting for
-- the liveness window; true if this token held it.
CREATE OR REPLACE FUNCTION phoenix.agent_release(p_agent uuid, p_holder uuid)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM phoenix.act_as(p_agent);
    UPDATE phoenix.agents SET holder = NULL WHERE id = p_agent AND holder = p_holder;
    RETURN FOUND;
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

-- Automatic decommission (docs/operations/decommission.md): agents whose heartbeat stopped more
-- than p_after_seconds before p_now are taken out of service, as the operator's decommission
-- does. Their claims went back to the board long before (the lease sweeper, within a lease); an
-- agent still holding one is left for the next run, after the sweeper has released it. Agent
-- rows only, in id order, SKIP LOCKED (a live transition holds its agent). Returns their ids.
CREATE OR REPLACE FUNCTION phoenix.agents_decommission_stale(p_after_seconds float8, p_limit integer,
                                                              p_now timestamptz DEFAULT NULL)
RETURNS TABLE (id uuid, codename text, team text, last_heartbeat timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
BEGIN
    IF p_after_seconds IS NULL OR p_after_seconds <= 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('decommission after must be a positive number of seconds, not %s', p_after_seconds);
    END IF;
    RETURN QUERY
    UPDATE phoenix.agents a SET decommissioned_at = v_now, idle_since = NULL, holder = NULL
      FROM (SELECT s.id FROM phoenix.agents s
             WHERE s.decommissioned_at IS NULL AND s.current_task IS NULL
               AND s.kind = 'agent'  -- members are people: they send no heartbeat
               AND s.last_heartbeat < v_now - make_interval(secs => p_after_seconds)
             ORDER BY s.id LIMIT p_limit FOR NO KEY UPDATE SKIP LOCKED) AS stale
     WHERE a.id = stale.id
    RETURNING a.id, a.codename, a.team, a.last_heartbeat;
END;
$$;
