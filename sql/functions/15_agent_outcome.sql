-- What an event does to the agent it happens to (docs/concepts/performance.md,
-- hormones.md, trust.md): phoenix.agent_outcome for the end of an attempt, phoenix.agent_hormones_add for events
-- that move hormones only. How much each event moves which hormone is phoenix.hormone_response
-- (12_hormones.sql); how it rates trust is phoenix.trust_evidence, phoenix.trust_update and
-- phoenix.trust_record (14_trust.sql), the steps of phoenix.trust_rate. Callers hold their task
-- rows already: tasks before agents (19_locking.sql).
-- Agent rows are locked FOR NO KEY UPDATE, the lock an UPDATE of them takes anyway: FOR UPDATE
-- would also wait on (and be waited on by) the key-share locks that every insert naming an agent
-- (an event, a review, an interaction) takes, an order no transaction controls, and reviews
-- deadlocked on it (docs/concepts/concurrency.md).

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
    delta jsonb;
    completed integer;
    failed integer;
    v_levels jsonb;
    v_positive float8;  -- the rating, when the board rates the outcome (p_rate); NULL: no rating
    v_negative float8;
    v_trust float8;
BEGIN
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_success THEN
        completed := a.tasks_completed + 1;
        failed := a.tasks_failed;
        delta := phoenix.hormone_response('completed', coalesce(p_reward::numeric::float8, 1), q);
    ELSE
        completed := a.tasks_completed;
        failed := a.tasks_failed + 1;
        delta := phoenix.hormone_response('failed');
    END IF;
    IF p_rate THEN
        SELECT e.positive, e.negative INTO v_positive, v_negative
          FROM phoenix.trust_evidence(CASE WHEN p_success THEN 'completed' ELSE 'failed' END, q) AS e;
    END IF;

    -- one update of the row for counters, hormones and trust (trust_rate's step, 14_trust.sql): a
    -- second update and lock for the trust alone wrote another copy of the row per result
    UPDATE phoenix.agents
       SET hormone_levels = phoenix.hormones_add(hormone_levels, delta),
           (trust_r, trust_s, trust_coefficient) =
               (SELECT u.new_r, u.new_s, u.new_trust
                  FROM phoenix.trust_update(trust_r, trust_s, trust_coefficient, v_positive, v_negative) AS u),
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
    RETURNING hormone_levels, trust_coefficient INTO v_levels, v_trust;
    PERFORM phoenix.hormone_cascade_note(p_agent, a.hormone_levels, v_levels, p_task, p_at);

    IF p_rate THEN
        PERFORM phoenix.trust_record(p_agent, v_positive, v_negative, NULL, 'outcome', p_task, p_at,
                                     a.trust_coefficient, v_trust,
                                     jsonb_build_object('quality', p_quality, 'reason', p_reason), p_success, delta);
    END IF;
END;
$$;
