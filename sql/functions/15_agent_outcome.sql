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

-- A rated event's step, the verdict of a review (task_review): the agent's hormones after the
-- event's delta and its trust evidence after its rating, from the row read under the lock, each by
-- its own call of hormones_add and trust_update. agent_rated writes the step; agent_outcome applies
-- the outcome on top of it, in the same one update of the row. No delta or no rating leaves that
-- part as it was (hormones_add, which rebuilds and rounds the levels, is not applied for an empty
-- delta, as agent_hormones_add does not apply it).
CREATE OR REPLACE FUNCTION phoenix.agent_event_step(
    a phoenix.agents, p_delta jsonb, p_positive float8, p_negative float8,
    OUT levels jsonb, OUT r float8, OUT s float8, OUT trust float8)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    levels := a.hormone_levels;
    r := a.trust_r;
    s := a.trust_s;
    trust := a.trust_coefficient;
    IF coalesce(p_delta, '{}') <> '{}' THEN
        levels := phoenix.hormones_add(a.hormone_levels, p_delta);
    END IF;
    IF p_positive IS NOT NULL OR p_negative IS NOT NULL THEN
        SELECT u.new_r, u.new_s, u.new_trust INTO r, s, trust
          FROM phoenix.trust_update(a.trust_r, a.trust_s, a.trust_coefficient, p_positive, p_negative) AS u;
    END IF;
END;
$$;

-- What a rated event's step records once the row is written: the cascade note of its hormones (no
-- task, the transaction's time: the form agent_hormones_add gave a verdict's hormones, so that the
-- rows stay what they were when it applied them) and its rating in the agent's hash chain.
-- a: the row before the step; p_levels, p_trust: after it (agent_event_step).
CREATE OR REPLACE FUNCTION phoenix.agent_event_record(
    a phoenix.agents, p_levels jsonb, p_trust float8, p_positive float8, p_negative float8,
    p_rater uuid, p_why text, p_task uuid, p_at timestamptz, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM phoenix.hormone_cascade_note(a.id, a.hormone_levels, p_levels, NULL, now());
    IF p_positive IS NOT NULL OR p_negative IS NOT NULL THEN
        PERFORM phoenix.trust_record(a.id, p_positive, p_negative, p_rater, p_why, p_task, p_at,
                                     a.trust_coefficient, p_trust, p_detail);
    END IF;
END;
$$;

-- A rated event that ends no attempt, a review verdict that decided nothing (task_review): its
-- step in one update of the agent row. A second update of a row the transaction already wrote
-- checks its team key again, locking the team's row, and writes one more copy of the row
-- (docs/costs.md).
CREATE OR REPLACE FUNCTION phoenix.agent_rated(
    p_agent uuid, p_delta jsonb, p_positive float8, p_negative float8, p_rater uuid, p_why text,
    p_task uuid, p_at timestamptz, p_detail jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents;
    step record;
BEGIN
    SELECT * INTO a FROM phoenix.agents WHERE id = p_agent FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO step FROM phoenix.agent_event_step(a, p_delta, p_positive, p_negative);
    UPDATE phoenix.agents
       SET hormone_levels = step.levels, (trust_r, trust_s, trust_coefficient) = (step.r, step.s, step.trust)
     WHERE id = p_agent;
    PERFORM phoenix.agent_event_record(a, step.levels, step.trust, p_positive, p_negative, p_rater, p_why,
                                       p_task, p_at, p_detail);
END;
$$;

-- agent_outcome took nine arguments before it could take a rated event with the outcome: the old
-- signature goes, or a call with nine would be ambiguous between the two.
DROP FUNCTION IF EXISTS phoenix.agent_outcome(uuid, uuid, boolean, real, real, interval, boolean, text, timestamptz);

-- The outcome of one attempt for the agent that worked it, in the transaction of the event:
-- counters, success rate, response time, Fibonacci level, hormones, trust (when p_rate: the board
-- rates the outcome itself; after a review the reviewers have rated it), and it frees the agent.
-- p_event_*: a rated event of the same transaction that comes before the outcome, the verdict that
-- decided a review: its step (agent_event_step) first, in the same one update of the row.
-- Its hormones are added (and clamped) before the outcome's and its rating moves trust before the
-- outcome's, each step by its own call of hormones_add and trust_update: clamping between the two
-- steps is not clamping their sum (a cortisol at its maximum, which a rejection cannot raise, is
-- relieved by the completion that follows), and the records (cascade notes, ratings) say what each
-- step moved, as they did when each step was an update of its own.
CREATE OR REPLACE FUNCTION phoenix.agent_outcome(
    p_agent uuid, p_task uuid, p_success boolean, p_quality real, p_reward real,
    p_response interval, p_rate boolean, p_reason text, p_at timestamptz,
    p_event_delta jsonb DEFAULT NULL, p_event_positive float8 DEFAULT NULL, p_event_negative float8 DEFAULT NULL,
    p_event_rater uuid DEFAULT NULL, p_event_why text DEFAULT NULL, p_event_detail jsonb DEFAULT '{}')
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
    -- the row after the event (p_event_*), before the outcome: the row itself when there is none
    v_event_levels jsonb;
    v_event_r float8;
    v_event_s float8;
    v_event_trust float8;
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
    -- the event's step, from the row read under the lock (what an update of its own would have
    -- read); with no event (every result but a review's) the row as it was
    SELECT * INTO v_event_levels, v_event_r, v_event_s, v_event_trust
      FROM phoenix.agent_event_step(a, p_event_delta, p_event_positive, p_event_negative);

    -- one update of the row for counters, hormones and trust (trust_rate's step, 14_trust.sql): a
    -- second update and lock for the trust alone wrote another copy of the row per result
    UPDATE phoenix.agents
       SET hormone_levels = phoenix.hormones_add(v_event_levels, delta),
           (trust_r, trust_s, trust_coefficient) =
               (SELECT u.new_r, u.new_s, u.new_trust
                  FROM phoenix.trust_update(v_event_r, v_event_s, v_event_trust, v_positive, v_negative) AS u),
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

    -- the records in the order of the steps: the event's, the outcome's
    IF p_event_delta IS NOT NULL OR p_event_positive IS NOT NULL OR p_event_negative IS NOT NULL THEN
        PERFORM phoenix.agent_event_record(a, v_event_levels, v_event_trust, p_event_positive, p_event_negative,
                                           p_event_rater, p_event_why, p_task, p_at, p_event_detail);
    END IF;
    PERFORM phoenix.hormone_cascade_note(p_agent, v_event_levels, v_levels, p_task, p_at);

    IF p_rate THEN
        PERFORM phoenix.trust_record(p_agent, v_positive, v_negative, NULL, 'outcome', p_task, p_at,
                                     v_event_trust, v_trust,
                                     jsonb_build_object('quality', p_quality, 'reason', p_reason), p_success, delta);
    END IF;
END;
$$;
