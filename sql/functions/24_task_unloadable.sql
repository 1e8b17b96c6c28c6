-- The claimant could not load the task it claimed (docs/errors.md): its row holds
-- something the agent cannot read or validate (a value past what the client can decode, a
-- document too deep for it), whatever let it in. Every attempt would meet the same row, so the
-- task fails for good at once with the agent's one-line reason instead of being held to the end of
-- its lease and claimed again; the agent is freed with no outcome (no failure count, cortisol or
-- trust), as for a task it has no handler for.
CREATE OR REPLACE FUNCTION phoenix.task_fail_unloadable(
    p_task uuid, p_agent uuid, p_attempt integer, p_reason text, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    t phoenix.tasks := phoenix.task_lock_claim(p_task, p_agent, p_attempt, 'fail', '{claimed,in_progress}');
BEGIN
    t := phoenix.task_attempt_ended(
        p_task, p_agent,
        'the agent could not load this task, so no attempt can run it: '
            || left(coalesce(nullif(p_reason, ''), 'no reason given'), 500),
        'failed', v_now, true);
    UPDATE phoenix.agents SET current_task = NULL, idle_since = v_now
     WHERE id = p_agent AND current_task = p_task;
    RETURN t;
END;
$$;
