-- A peer's verdict on the result of the current attempt (README "Review"). Never the executor.
-- Each verdict is weighted by the reviewer's trust when it votes and rates the executor at once
-- (beta reputation). When the quorum is reached the weighted sum decides: above zero the task
-- completes; otherwise the attempt counts as failed and the task is reopened (or fails for good).
-- Reviewers who agreed with the consensus gain trust, the others lose some.
CREATE OR REPLACE FUNCTION phoenix.task_review(
    p_task uuid, p_agent uuid, p_verdict integer, p_reason text, p_now timestamptz DEFAULT NULL,
    OUT task phoenix.tasks, OUT decided text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    a phoenix.agents;
    v_count integer;
    v_decide boolean;
    v_sum float8;
    v_reviewer record;
    v_approved boolean;
    v_executor uuid;
    v_attempt integer;
BEGIN
    IF p_verdict IS NULL OR p_verdict NOT IN (-1, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('verdict must be +1 or -1, not %s', p_verdict);
    END IF;
    -- the decision may settle a child: its tree's root first (README "Delegation")
    task := phoenix.task_lock(p_task);
    a := phoenix.agent_active(p_agent);
    IF task.status <> 'review' THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIT0',
            MESSAGE = format('cannot review task %s: it is %s, not in review', p_task, task.status);
    END IF;
    IF task.assigned_to = p_agent THEN
        RAISE EXCEPTION USING ERRCODE = 'PBSV0',
            MESSAGE = format('agent %s cannot review its own work on task %s', a.codename, p_task);
    END IF;
    INSERT INTO phoenix.task_reviews (task_id, attempt, agent_id, verdict, weight, reason, at)
    VALUES (p_task, task.attempt, p_agent, p_verdict, a.trust_coefficient, p_reason, v_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s already reviewed attempt %s of task %s', a.codename, task.attempt, p_task);
    END IF;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p_task, 'reviewed', p_agent, task.attempt, v_now, jsonb_build_object('verdict', p_verdict, 'weight', a.trust_coefficient));

    SELECT count(*), coalesce(sum(weight * verdict), 0) INTO v_count, v_sum
      FROM phoenix.task_reviews WHERE task_id = p_task AND attempt = task.attempt;
    v_executor := task.assigned_to;
    v_attempt := task.attempt;
    -- A partner may approve its partner's work, but the pair alone cannot complete it: approval
    -- waits (the task stays in review) until an agent from outside the pair approves too
    -- (README "Partners and supervisors"). Rejection needs no such vote.
    v_decide := v_count >= task.review_quorum AND (v_sum <= 0 OR EXISTS (
        SELECT 1 FROM phoenix.task_reviews r
         WHERE r.task_id = p_task AND r.attempt = task.attempt AND r.verdict > 0
           AND NOT (r.agent_id = ANY ((SELECT e.paired_agents FROM phoenix.agents e WHERE e.id = task.assigned_to)::uuid[]))));
    -- task rows first (the decision may touch dependents), agents after: the board's lock order
    IF v_decide THEN
        v_approved := v_sum > 0;
        IF v_approved THEN
            task := phoenix.task_completed(p_task, v_executor, v_now,
                                           jsonb_build_object('consensus', v_sum, 'reviews', v_count));
            decided := 'approved';
        ELSE
            task := phoenix.task_attempt_failed(p_task, v_executor,
                                                format('rejected by review (weighted consensus %s)', round(v_sum::numeric, 3)),
                                                'rejected', v_now);
            decided := 'rejected';
        END IF;
    END IF;

    PERFORM phoenix.agent_hormones_add(v_executor, CASE WHEN p_verdict > 0
        THEN jsonb_build_object('oxytocin', phoenix.k_oxytocin_per_approval())
        ELSE jsonb_build_object('cortisol', phoenix.k_cortisol_per_rejection()) END);
    PERFORM phoenix.trust_rate(v_executor,
                               CASE WHEN p_verdict > 0 THEN a.trust_coefficient ELSE 0 END,
                               CASE WHEN p_verdict < 0 THEN a.trust_coefficient ELSE 0 END,
                               p_agent, 'review', p_task, v_now, jsonb_build_object('attempt', v_attempt));
    IF decided IS NULL THEN
        RETURN;
    END IF;
    -- the reviewers rated the work already, so the outcome updates counters and hormones only
    PERFORM phoenix.agent_outcome(v_executor, p_task, v_approved,
                                  CASE WHEN v_approved THEN task.quality_score END,
                                  CASE WHEN v_approved THEN task.dopamine_reward END,
                                  CASE WHEN v_approved THEN task.completed_at - task.claimed_at END,
                                  false, decided, v_now);
    -- each reviewer is rated once per task attempt, however often the attempt is decided
    FOR v_reviewer IN
        SELECT r.agent_id, r.verdict FROM phoenix.task_reviews r
         WHERE r.task_id = p_task AND r.attempt = v_attempt
           AND NOT EXISTS (SELECT 1 FROM phoenix.agent_interactions i
                            WHERE i.agent_to = r.agent_id AND i.task_id = p_task AND i.interaction_type = 'consensus'
                              AND i.metadata ->> 'attempt' = v_attempt::text)
         ORDER BY r.agent_id
    LOOP
        PERFORM phoenix.trust_rate(v_reviewer.agent_id,
            CASE WHEN (v_reviewer.verdict > 0) = v_approved THEN phoenix.k_trust_consensus_weight() ELSE 0 END,
            CASE WHEN (v_reviewer.verdict > 0) <> v_approved THEN phoenix.k_trust_consensus_weight() ELSE 0 END,
            NULL, 'consensus', p_task, v_now, jsonb_build_object('attempt', v_attempt, 'decided', decided));
    END LOOP;
END;
$$;
