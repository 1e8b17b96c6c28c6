-- Claim the first task in the claim order for this agent (docs/concepts/ranking.md#claim-order): open, all
-- dependencies complete, available, its team, within the size its stress allows. One statement
-- for the caller; SKIP LOCKED so that concurrent claimers never wait on each other or share a task.
-- Sets the lease, bumps the attempt (the fencing token) and the agent's current_task together.
-- Returns no row when nothing is claimable. With p_start the task goes straight to in_progress
-- (one UPDATE, both events): the agent loop begins its handler at once.
CREATE OR REPLACE FUNCTION phoenix.task_claim_as(p_agent uuid, p_lease_seconds float8, p_now timestamptz, p_start boolean)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
-- the plans do not depend on the values; a generic plan saves re-planning on every call
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    a phoenix.agents;
    t phoenix.tasks;
    v_urgency float8;
    -- flow control (16_claim_gates.sql): whether any gate applies, the categories held back,
    -- the concurrency keys found full in this call
    v_gated boolean;
    v_team_held boolean;
    v_skip_categories text[];
    v_skip_keys text[] := '{}';
    v_held text;
    v_sort text := current_setting('enable_sort');
BEGIN
    PERFORM phoenix.act_as(p_agent);
    -- the agent row lock serialises this agent's own claims; claims never wait on task locks.
    -- NO KEY UPDATE (what the UPDATE below takes anyway), not FOR UPDATE: that would also wait on
    -- the key-share lock a review's events take on its executor, while the review waits on this
    -- row (docs/concepts/concurrency.md)
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agent %s not found; register it first', p_agent);
    END IF;
    IF a.decommissioned_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0', MESSAGE = format('agent %s is decommissioned', a.codename);
    END IF;
    -- a member is a person who takes part: it never claims (docs/concepts/review.md#members)
    IF a.kind = 'member' THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('%s is a member (a person): members vote, comment and review, and never claim tasks', a.codename);
    END IF;
    IF a.current_task IS NOT NULL THEN
        SELECT * INTO t FROM phoenix.tasks
         WHERE id = a.current_task AND assigned_to = p_agent AND status IN ('claimed', 'in_progress');
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PBCF0',
                MESSAGE = format('agent %s still holds task %s (attempt %s); finish or fail it first',
                                 a.codename, t.id, t.attempt);
        END IF;
    END IF;

    -- the gates of this agent's team and of every category (a handful of rows; none on a board
    -- that configured no flow control, docs/concepts/flow-control.md): a team held back claims
    -- nothing, a category held back is left out of the search
    SELECT count(*) > 0,
           coalesce(bool_or(g.scope_kind = 'team' AND phoenix.gate_blocked(g, v_now) IS NOT NULL), false),
           array_agg(g.scope) FILTER (WHERE g.scope_kind = 'category' AND phoenix.gate_blocked(g, v_now) IS NOT NULL)
      INTO v_gated, v_team_held, v_skip_categories
      FROM phoenix.claim_gates g
     WHERE g.scope_kind = 'category' OR (g.scope_kind = 'team' AND g.scope = a.team);

    LOOP
        IF v_team_held THEN
            t := NULL;
            EXIT;
        END IF;
        -- The first task in claim order, which tasks_claim_idx holds in that order. The session
        -- plans this once (a generic plan) and keeps the plan: planned with sorting allowed and the
        -- statistics of a board of a few hundred open tasks, it fetched every available task of the
        -- team through tasks_claimable_age_idx and sorted them all, on every claim (788 rows a claim
        -- in bench e2e). So sorting is off while it is planned, for this statement only: set on the
        -- function it would reach the triggers this function fires, whose sorts it priced so high
        -- that each was JIT-compiled (89 ms an outbox row).
        PERFORM set_config('enable_sort', 'off', true);
        SELECT * INTO t FROM phoenix.tasks
         WHERE team = a.team AND status = 'open' AND pending_deps = 0
           AND available_at <= v_now
           AND fibonacci_size <= phoenix.stress_size_cap(a.hormone_levels)
           -- offered first to some agents (docs/concepts/delegation.md); NULL on almost every row
           AND (preferred_until IS NULL OR preferred_until <= v_now OR p_agent = ANY (preferred_agents))
           AND (v_skip_categories IS NULL OR category <> ALL (v_skip_categories))
           AND (cardinality(v_skip_keys) = 0 OR concurrency_key IS NULL OR concurrency_key <> ALL (v_skip_keys))
         ORDER BY claim_key, id
         LIMIT 1
           FOR NO KEY UPDATE SKIP LOCKED;
        PERFORM set_config('enable_sort', v_sort, true);
        -- the path of a board without flow control ends here
        EXIT WHEN NOT FOUND OR (NOT v_gated AND t.concurrency_key IS NULL);
        -- a concurrency key: at most concurrency_limit of its tasks in flight, one per slot
        IF t.concurrency_key IS NOT NULL AND NOT phoenix.concurrency_take(t) THEN
            v_skip_keys := v_skip_keys || t.concurrency_key;
            CONTINUE;
        END IF;
        -- rate limits: a slot of each, checked again under its lock
        IF v_gated THEN
            v_held := phoenix.gate_take(a.team, t.category, v_now);
            IF v_held = 'team' THEN
                v_team_held := true;
                CONTINUE;
            ELSIF v_held = 'category' THEN
                v_skip_categories := coalesce(v_skip_categories, '{}') || t.category;
                CONTINUE;
            END IF;
        END IF;
        EXIT;
    END LOOP;
    IF t.id IS NULL THEN
        UPDATE phoenix.agents SET current_task = NULL, last_heartbeat = v_now,
                                  idle_since = coalesce(idle_since, v_now)
         WHERE id = p_agent AND (current_task IS NOT NULL OR last_heartbeat < v_now);
        RETURN;
    END IF;

    UPDATE phoenix.tasks
       SET status = CASE WHEN p_start THEN 'in_progress' ELSE 'claimed' END::phoenix.task_status,
           attempt = attempt + 1, assigned_to = p_agent, claimed_at = v_now,
           started_at = CASE WHEN p_start THEN v_now END,
           lease_expires_at = v_now + phoenix.lease(p_lease_seconds)
     WHERE id = t.id
    RETURNING * INTO t;

    -- a near deadline raises adrenaline: urgency 0 at DEADLINE_LEAD before it, 1 at the deadline
    v_urgency := CASE WHEN t.deadline IS NULL THEN 0
                      ELSE least(1, greatest(0, 1 - extract(epoch FROM t.deadline - v_now) / phoenix.k_deadline_lead_seconds()))
                 END;
    -- one update either way; only the urgent one names the hormones, so that the others fire no
    -- check of the agent's outcome columns (agents_check_outcome, 06_task_limits.sql)
    IF v_urgency > 0 THEN
        UPDATE phoenix.agents
           SET current_task = t.id, idle_since = NULL, last_heartbeat = v_now,
               hormone_levels = phoenix.hormones_add(hormone_levels, phoenix.hormone_response('urgent_claim', v_urgency))
         WHERE id = p_agent;
    ELSE
        UPDATE phoenix.agents SET current_task = t.id, idle_since = NULL, last_heartbeat = v_now WHERE id = p_agent;
    END IF;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (t.id, 'claimed', p_agent, t.attempt, v_now, jsonb_build_object('lease_expires_at', t.lease_expires_at));
    IF p_start THEN
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at) VALUES (t.id, 'started', p_agent, t.attempt, v_now);
    END IF;
    RETURN NEXT t;
END;
$$;

-- plpgsql, not sql: a volatile sql function is never inlined, and one that is not is planned
-- again on every call (a sixth of a millisecond per claim); plpgsql keeps the plan for the session
CREATE OR REPLACE FUNCTION phoenix.task_claim(p_agent uuid, p_lease_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM phoenix.task_claim_as(p_agent, p_lease_seconds, p_now, false);
END;
$$;

-- How many tasks of a team are claimable now, up to p_cap: what the idle poller needs to decide
-- how many agents to wake. A count only, so the agent role may ask it of any team.
CREATE OR REPLACE FUNCTION phoenix.tasks_claimable_count(p_team text, p_cap integer)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM phoenix.tasks
         WHERE team = p_team AND status = 'open' AND pending_deps = 0 AND available_at <= now()
           -- a team held back by a gate has nothing claimable (no wake-ups for it)
           AND NOT EXISTS (SELECT 1 FROM phoenix.claim_gates g
                            WHERE g.scope_kind = 'team' AND g.scope = p_team AND phoenix.gate_blocked(g, now()) IS NOT NULL)
         LIMIT p_cap) AS claimable
$$;
