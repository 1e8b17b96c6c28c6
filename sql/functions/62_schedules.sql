-- Firing a schedule's slot (docs/concepts/schedules.md). Which slots are due is cron arithmetic,
-- done in Python (board/schedules.py with cronsim); this is the part that must be atomic: the
-- slot's key and its task in one transaction.

-- Fires one slot of a schedule: takes the key (schedule, kind, slot) and submits the schedule's
-- task through phoenix.task_submit (the one way tasks are submitted, with the task's
-- concurrency key), so every field a schedule's task may carry reaches the task. A key already taken (another
-- beat, or this one before a restart) fires nothing: fired is false. A submission the board
-- refuses (its team's or author's state, a dependency that failed: SQLSTATEs PB*, 22*, 23*) spends
-- the slot with the refusal recorded in error, so a broken schedule does not retry the same slot
-- for ever; any other error (the server going away, a deadlock) rolls the key back with the rest
-- and the slot fires on the next tick. The task carries the slot: its idempotency key
-- schedule:<schedule id>:<kind>:<slot> and a 'scheduled' event naming the schedule and the slot.
-- A manual run may carry the caller's key (p_key): a key taken before fires nothing and returns
-- that run's task, slot and refusal, so a retried run-now submits once.
CREATE OR REPLACE FUNCTION phoenix.schedule_fire(p_schedule uuid, p_kind text, p_slot timestamptz,
                                                 p_now timestamptz DEFAULT NULL, p_key text DEFAULT NULL,
                                                 OUT fired boolean, OUT task_id uuid, OUT team text, OUT error text,
                                                 OUT run_slot timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    s phoenix.schedules;
    t jsonb;
    v_created boolean;
BEGIN
    SELECT * INTO s FROM phoenix.schedules WHERE id = p_schedule;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('schedule %s not found', p_schedule);
    END IF;
    INSERT INTO phoenix.schedule_runs (schedule_id, kind, slot, fired_at, key)
    VALUES (p_schedule, p_kind, p_slot, v_now, p_key)
    ON CONFLICT DO NOTHING;
    team := s.team;
    IF NOT FOUND THEN
        fired := false;
        IF p_key IS NOT NULL THEN  -- (a same-key run in flight was waited for by the insert)
            SELECT r.task_id, r.error, r.slot INTO task_id, error, run_slot
              FROM phoenix.schedule_runs r WHERE r.schedule_id = p_schedule AND r.key = p_key;
        END IF;
        RETURN;
    END IF;
    fired := true;
    run_slot := p_slot;
    t := s.task;
    BEGIN
        SELECT (r.task).id, r.created INTO task_id, v_created
          FROM phoenix.task_submit(
                   p_title => t->>'title', p_description => t->>'description', p_category => t->>'category',
                   p_payload => t->'payload', p_priority => (t->>'priority')::integer, p_team => t->>'team',
                   p_created_by => (t->>'created_by')::uuid, p_dopamine_reward => (t->>'dopamine_reward')::real,
                   p_max_attempts => (t->>'max_attempts')::integer,
                   p_review_quorum => (t->>'review_quorum')::integer,
                   p_depends_on => ARRAY(SELECT jsonb_array_elements_text(coalesce(t->'depends_on', '[]')))::uuid[],
                   p_deadline => NULL, p_fibonacci_size => (t->>'fibonacci_size')::integer,
                   p_idempotency_key => format('schedule:%s:%s:%s', s.id, p_kind,
                                               to_char(p_slot AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
                   p_not_before => NULL, p_concurrency_key => t->>'concurrency_key',
                   p_concurrency_limit => (t->>'concurrency_limit')::integer,
                   p_now => p_now, p_needs_person => coalesce((t->>'needs_person')::boolean, false)) AS r;
        IF v_created THEN  -- (a key found taken returns the task it made before: its event is there)
            INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
            VALUES (task_id, 'scheduled', NULL, 0, v_now,
                    jsonb_build_object('schedule', s.name, 'schedule_id', s.id, 'kind', p_kind, 'slot', p_slot));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        IF NOT (SQLSTATE LIKE 'PB%' OR left(SQLSTATE, 2) IN ('22', '23')) THEN
            RAISE;
        END IF;
        error := left(SQLERRM, 1000);
    END;
    UPDATE phoenix.schedule_runs r SET task_id = schedule_fire.task_id, error = schedule_fire.error
     WHERE r.schedule_id = p_schedule AND r.kind = p_kind AND r.slot = p_slot;
    IF error IS NULL THEN
        UPDATE phoenix.schedules SET last_task_id = schedule_fire.task_id WHERE id = p_schedule;
    ELSE
        UPDATE phoenix.schedules SET last_error = schedule_fire.error, last_error_at = v_now WHERE id = p_schedule;
    END IF;
END;
$$;
