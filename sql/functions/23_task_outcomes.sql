-- The two ends of an attempt, shared by result, review, fail and the lease sweeper.
-- Both expect the task row to be locked by the caller (tasks before agents; 19_locking.sql).

-- Wait before the next attempt after `attempt` failed: base * 2^(attempt - 1), capped.
CREATE OR REPLACE FUNCTION phoenix.retry_backoff(attempt integer)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT make_interval(secs => least(phoenix.k_retry_backoff_max_seconds(),
                                       phoenix.k_retry_backoff_base_seconds() * power(2, greatest(attempt, 1) - 1)))
$$;

-- Success: the task completes, its dependents count one unfinished dependency less (locked in id
-- order), and the event is written.
-- With p_output, the result is stored by the same UPDATE (task_result); without, the result
-- stored earlier stands (completion after review).
CREATE OR REPLACE FUNCTION phoenix.task_completed(
    p_task uuid, p_agent uuid, p_now timestamptz, p_detail jsonb, p_output jsonb DEFAULT NULL, p_quality real DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    t phoenix.tasks;
BEGIN
    UPDATE phoenix.tasks
       SET status = 'complete', completed_at = p_now, lease_expires_at = NULL,
           output = coalesce(p_output, output),
           quality_score = CASE WHEN p_output IS NOT NULL THEN p_quality ELSE quality_score END
     WHERE id = p_task RETURNING * INTO t;
    -- most tasks have no dependents: one probe then, instead of the two statements below
    IF EXISTS (SELECT 1 FROM phoenix.task_dependencies WHERE depends_on = p_task) THEN
        PERFORM 1 FROM phoenix.tasks
          WHERE id IN (SELECT task_id FROM phoenix.task_dependencies WHERE depends_on = p_task) ORDER BY id FOR NO KEY UPDATE;
        UPDATE phoenix.tasks SET pending_deps = pending_deps - 1
         WHERE id IN (SELECT task_id FROM phoenix.task_dependencies WHERE depends_on = p_task) AND pending_deps > 0;
    END IF;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p_task, 'completed', p_agent, t.attempt, p_now, p_detail);
    -- a child counts on its waiting parent (the caller holds the tree's root)
    IF t.parent_id IS NOT NULL THEN
        PERFORM phoenix.task_child_settled(p_task, p_now);
    END IF;
    RETURN t;
END;
$$;

-- Failure of the current attempt: back to the board after a backoff while attempts remain, else
-- failed for good, and then every task that depends on it (transitively) fails too, since it
-- could never run. p_kind names the event: failed, lease_expired, rejected, released.
CREATE OR REPLACE FUNCTION phoenix.task_attempt_failed(
    p_task uuid, p_agent uuid, p_reason text, p_kind text, p_now timestamptz)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
BEGIN
    -- attempts_before: the attempts made before an operator's retry (32_task_retry.sql) do not count
    RETURN phoenix.task_attempt_ended(p_task, p_agent, p_reason, p_kind, p_now,
                                      (SELECT attempt - attempts_before >= max_attempts FROM phoenix.tasks WHERE id = p_task));
END;
$$;

-- The end of a failed attempt, final or not (p_final: no retry, whatever attempts remain; a task
-- no agent can run gains nothing from a retry). The one place that fails a task.
CREATE OR REPLACE FUNCTION phoenix.task_attempt_ended(
    p_task uuid, p_agent uuid, p_reason text, p_kind text, p_now timestamptz, p_final boolean)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    t phoenix.tasks;
    v_final boolean := p_final;
    v_retry_at timestamptz;
BEGIN
    SELECT * INTO t FROM phoenix.tasks WHERE id = p_task;
    v_retry_at := p_now + phoenix.retry_backoff(t.attempt);
    UPDATE phoenix.tasks
       SET status = CASE WHEN v_final THEN 'failed'::phoenix.task_status ELSE 'open' END,
           assigned_to = CASE WHEN v_final THEN assigned_to END,
           lease_expires_at = NULL,
           last_error = left(p_reason, 1000),
           completed_at = CASE WHEN v_final THEN p_now END,
           available_at = CASE WHEN v_final THEN available_at ELSE v_retry_at END,
           claim_key = CASE WHEN v_final THEN claim_key ELSE phoenix.claim_key(v_retry_at, priority, hot_score, deadline) END
     WHERE id = p_task RETURNING * INTO t;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p_task, p_kind, p_agent, t.attempt, p_now,
            jsonb_build_object('reason', left(p_reason, 1000), 'final', v_final,
                               'retry_at', CASE WHEN v_final THEN NULL ELSE v_retry_at END));
    IF v_final THEN
        PERFORM phoenix.task_fail_dependents(p_task, p_now);
        IF t.parent_id IS NOT NULL THEN
            PERFORM phoenix.task_child_settled(p_task, p_now);
        END IF;
    END IF;
    RETURN t;
END;
$$;
