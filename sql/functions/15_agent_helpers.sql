-- Agent helpers shared by the task functions. Lock order: tasks first, then agents (docs/concepts/concurrency.md).
-- Agent rows are locked FOR NO KEY UPDATE, the lock an UPDATE of them takes anyway: FOR UPDATE
-- would also wait on (and be waited on by) the key-share locks that every insert naming an agent
-- (an event, a review, an interaction) takes, an order no transaction controls, and reviews
-- deadlocked on it (docs/concepts/concurrency.md).

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

-- Adds hormone deltas to one agent (clamped). Used for events that do not rate an outcome.
-- A strong move starts a hormone cascade (docs/concepts/cascades.md).
CREATE OR REPLACE FUNCTION phoenix.agent_hormones_add(p_agent uuid, p_delta jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_before jsonb;
    v_after jsonb;
BEGIN
    IF p_delta = '{}'::jsonb THEN
        RETURN;
    END IF;
    SELECT hormone_levels INTO v_before FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    UPDATE phoenix.agents SET hormone_levels = phoenix.hormones_add(hormone_levels, p_delta)
     WHERE id = p_agent
    RETURNING hormone_levels INTO v_after;
    IF FOUND THEN
        PERFORM phoenix.hormone_cascade_note(p_agent, v_before, v_after, NULL, now());
    END IF;
END;
$$;

-- The outcome of one attempt for the agent that worked it, in the transaction of the event:
-- counters, success rate, response time, Fibonacci level, hormones, trust (when p_rate: the board
-- rates the outcome itself; after a review the reviewers have rated it), and it frees the agent.
CREATE OR REPLACE FUNCTION phoenix.agent_outcome(
    p_agent uuid, p_task uuid, p_success boolean, p_quality real, p_reward real,
    p_response interval, p_rate boolean, p_reason text, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents;
    -- via numeric, so that a real quality of 0.9 counts as 0.9, not 0.899999976
    q float8 := least(1, greatest(0, coalesce(p_quality::numeric::float8, 1)));
    pos float8 := 0;
    neg float8 := 0;
    delta jsonb;
    completed integer;
    failed integer;
    new_trust float8;
    v_levels jsonb;
BEGIN
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_success THEN
        completed := a.tasks_completed + 1;
        failed := a.tasks_failed;
        delta := jsonb_build_object('dopamine', phoenix.k_dopamine_per_completion() * coalesce(p_reward::numeric::float8, 1) * q,
                                    'cortisol', -phoenix.k_cortisol_relief_per_completion());
        IF p_rate THEN
            pos := phoenix.k_trust_outcome_weight() * q;
            neg := phoenix.k_trust_outcome_weight() * (1 - q);
        END IF;
    ELSE
        completed := a.tasks_completed;
        failed := a.tasks_failed + 1;
        delta := jsonb_build_object('cortisol', phoenix.k_cortisol_per_failure(),
                                    'dopamine', -phoenix.k_dopamine_loss_per_failure());
        IF p_rate THEN
            neg := phoenix.k_trust_outcome_weight();
        END IF;
    END IF;

    UPDATE phoenix.agents
       SET hormone_levels = phoenix.hormones_add(hormone_levels, delta),
           -- forgetting applies only with a new rating
           trust_r = CASE WHEN p_rate THEN phoenix.k_trust_forgetting() * trust_r + pos ELSE trust_r END,
           trust_s = CASE WHEN p_rate THEN phoenix.k_trust_forgetting() * trust_s + neg ELSE trust_s END,
           trust_coefficient = CASE WHEN p_rate
               THEN phoenix.trust_value(phoenix.k_trust_forgetting() * trust_r + pos, phoenix.k_trust_forgetting() * trust_s + neg)
               ELSE trust_coefficient END,
           tasks_completed = completed,
           tasks_failed = failed,
           success_rate = completed::float8 / (completed + failed),
           -- running mean over completed tasks
           average_response_time = CASE
               WHEN p_success AND p_response IS NOT NULL
               THEN coalesce(average_response_time + (p_response - average_response_time) / completed, p_response)
               ELSE average_response_time END,
           fibonacci_level = phoenix.fibonacci_level(completed),
           current_task = CASE WHEN current_task = p_task THEN NULL ELSE current_task END,
           idle_since = CASE WHEN current_task = p_task THEN p_at ELSE idle_since END
     WHERE id = p_agent
    RETURNING trust_coefficient, hormone_levels INTO new_trust, v_levels;
    PERFORM phoenix.hormone_cascade_note(p_agent, a.hormone_levels, v_levels, p_task, p_at);

    IF p_rate THEN
        INSERT INTO phoenix.agent_interactions
            (agent_from, agent_to, interaction_type, task_id, trust_delta, hormone_exchange, success, metadata, at)
        VALUES (NULL, p_agent, 'outcome', p_task, new_trust - a.trust_coefficient, delta, p_success,
                jsonb_build_object('positive', pos, 'negative', neg, 'quality', p_quality, 'reason', p_reason), p_at);
    END IF;
END;
$$;
