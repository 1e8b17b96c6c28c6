-- The claimant submits its result. Without review the task completes; with a review quorum it
-- waits in review for peer verdicts (task_review) and the agent is free again.
CREATE OR REPLACE FUNCTION phoenix.task_result(
    p_task uuid, p_agent uuid, p_attempt integer, p_output jsonb, p_quality real, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'submit a result for', '{claimed,in_progress}');
BEGIN
    IF p_quality IS NOT NULL AND NOT (p_quality BETWEEN 0 AND 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('quality %s is outside [0, 1]', p_quality);
    END IF;
    IF t.review_quorum = 0 THEN
        -- one UPDATE of the task: the output travels with the completion
        t := phoenix.task_completed(p_task, p_agent, v_now, jsonb_build_object('quality', p_quality),
                                    coalesce(p_output, '{}'), p_quality);
        PERFORM phoenix.agent_outcome(p_agent, p_task, true, p_quality, t.dopamine_reward,
                                      v_now - t.claimed_at, true, 'completed', v_now);
    ELSE
        UPDATE phoenix.tasks SET status = 'review', lease_expires_at = NULL, review_since = v_now,
                                 output = coalesce(p_output, '{}'), quality_score = p_quality
         WHERE id = p_task RETURNING * INTO t;
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
        VALUES (p_task, 'submitted_for_review', p_agent, t.attempt, v_now,
                jsonb_build_object('quality', p_quality, 'quorum', t.review_quorum));
        UPDATE phoenix.agents SET current_task = NULL, idle_since = v_now, last_heartbeat = v_now
         WHERE id = p_agent AND current_task = p_task;
    END IF;
    -- what the attempt spent, if its output says (flow control's budgets: 16_claim_gates.sql)
    PERFORM phoenix.usage_record(t, p_agent, p_output -> 'usage', v_now);
    RETURN t;
END;
$$;

-- The claimant gives up or its handler failed: retry with backoff, or fail for good.
CREATE OR REPLACE FUNCTION phoenix.task_fail(
    p_task uuid, p_agent uuid, p_attempt integer, p_reason text, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'fail', '{claimed,in_progress}');
BEGIN
    t := phoenix.task_attempt_failed(p_task, p_agent, coalesce(p_reason, 'failed'), 'failed', v_now);
    PERFORM phoenix.agent_outcome(p_agent, p_task, false, NULL, NULL, NULL, true, p_reason, v_now);
    RETURN t;
END;
$$;

-- A task that no attempt can ever run fails for good at once with that reason, and its claimant is
-- freed with no outcome (no failure count, cortisol or trust): the fault is the task's or the
-- installation's, not the agent's. The two cases below are the only callers.
CREATE OR REPLACE FUNCTION phoenix.task_fail_blameless(
    p_task uuid, p_agent uuid, p_attempt integer, p_reason text, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'fail', '{claimed,in_progress}');
BEGIN
    t := phoenix.task_attempt_ended(p_task, p_agent, p_reason, 'failed', v_now, true);
    UPDATE phoenix.agents SET current_task = NULL, idle_since = v_now
     WHERE id = p_agent AND current_task = p_task;
    RETURN t;
END;
$$;

-- The claimant has no handler for the task's category. That is the installation's gap, and another
-- attempt would meet the same gap.
CREATE OR REPLACE FUNCTION phoenix.task_fail_unhandled(
    p_task uuid, p_agent uuid, p_attempt integer, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE sql
AS $$
    -- a task's category never changes, so reading it before the lock is safe
    SELECT * FROM phoenix.task_fail_blameless(
        p_task, p_agent, p_attempt,
        format('no handler for category %L on this board''s agents: not retried, no agent blamed',
               (SELECT category FROM phoenix.tasks WHERE id = p_task)),
        p_now);
$$;

-- The claimant could not load the task it claimed (docs/errors.md): its row holds something the
-- agent cannot read or validate (a value past what the client can decode, a document too deep for
-- it), whatever let it in. Every attempt would meet the same row, so it is not held to the end of
-- its lease and claimed again.
CREATE OR REPLACE FUNCTION phoenix.task_fail_unloadable(
    p_task uuid, p_agent uuid, p_attempt integer, p_reason text, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE sql
AS $$
    SELECT * FROM phoenix.task_fail_blameless(
        p_task, p_agent, p_attempt,
        'the agent could not load this task, so no attempt can run it: '
            || left(coalesce(nullif(p_reason, ''), 'no reason given'), 500),
        p_now);
$$;
