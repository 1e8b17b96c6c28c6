-- Creating tasks (docs/concepts/lifecycle.md): phoenix.task_new is the one home of a new task's
-- defaults and first ranks, phoenix.task_insert the one INSERT of a task; a submission
-- (task_submit) and a delegation's children (task_delegate, 55_delegation.sql) both go through them.

-- A new task's row, not yet stored: the content given, the board's defaults for what was not
-- given, its first ranks and claim key at p_now. A child names its parent (the tree's columns
-- follow from it), its key and the agents it is offered to first.
CREATE OR REPLACE FUNCTION phoenix.task_new(
    p_title text, p_description text, p_category text, p_payload jsonb, p_priority integer,
    p_team text, p_created_by uuid, p_dopamine_reward real, p_max_attempts integer,
    p_review_quorum integer, p_deadline timestamptz, p_fibonacci_size integer, p_now timestamptz,
    p_depends_on uuid[] DEFAULT '{}', p_idempotency_key text DEFAULT NULL, p_parent phoenix.tasks DEFAULT NULL,
    p_child_key text DEFAULT NULL, p_preferred_agents uuid[] DEFAULT '{}', p_preferred_until timestamptz DEFAULT NULL)
RETURNS phoenix.tasks
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    t phoenix.tasks;
BEGIN
    t.title := p_title;
    t.description := coalesce(p_description, '');
    t.category := coalesce(p_category, 'general');
    t.payload := coalesce(p_payload, '{}');
    t.priority := coalesce(p_priority, 5);
    t.team := p_team;
    t.created_by := p_created_by;
    t.dopamine_reward := coalesce(p_dopamine_reward, 1.0);
    t.max_attempts := coalesce(p_max_attempts, 3);
    t.review_quorum := coalesce(p_review_quorum, 0);
    t.deadline := p_deadline;
    t.fibonacci_size := coalesce(p_fibonacci_size, 1);
    t.depends_on := coalesce(p_depends_on, '{}');
    t.pending_deps := 0;  -- the submission counts its unfinished dependencies under their locks
    t.idempotency_key := p_idempotency_key;
    t.created_at := p_now;
    t.available_at := p_now;
    t.last_activity_at := p_now;
    t.hot_score := phoenix.hot_rank(0, p_now, p_now);
    t.active_score := phoenix.hot_rank(0, p_now, p_now);
    t.claim_key := phoenix.claim_key(p_now, coalesce(p_priority, 5), phoenix.hot_rank(0, p_now, p_now), p_deadline);
    t.parent_id := p_parent.id;
    t.root_id := coalesce(p_parent.root_id, p_parent.id);
    t.depth := coalesce(p_parent.depth + 1, 0);
    t.child_key := p_child_key;
    t.preferred_agents := coalesce(p_preferred_agents, '{}');
    t.preferred_until := p_preferred_until;
    RETURN t;
END;
$$;

-- Stores a row made by phoenix.task_new. A row whose key is taken (the submitter's idempotency
-- key, or the parent's child key) is not stored: the result is then a row of NULLs.
CREATE OR REPLACE FUNCTION phoenix.task_insert(t phoenix.tasks)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    stored phoenix.tasks;
BEGIN
    INSERT INTO phoenix.tasks (title, description, category, payload, priority, team, created_by,
                               dopamine_reward, max_attempts, review_quorum, depends_on, pending_deps,
                               deadline, fibonacci_size, idempotency_key, created_at, available_at,
                               last_activity_at, hot_score, active_score, claim_key,
                               parent_id, root_id, depth, child_key, preferred_agents, preferred_until,
                               needs_person, concurrency_key, concurrency_limit)
    VALUES (t.title, t.description, t.category, t.payload, t.priority, t.team, t.created_by,
            t.dopamine_reward, t.max_attempts, t.review_quorum, t.depends_on, t.pending_deps,
            t.deadline, t.fibonacci_size, t.idempotency_key, t.created_at, t.available_at,
            t.last_activity_at, t.hot_score, t.active_score, t.claim_key,
            t.parent_id, t.root_id, t.depth, t.child_key, t.preferred_agents, t.preferred_until,
            coalesce(t.needs_person, false), t.concurrency_key, t.concurrency_limit)
    ON CONFLICT DO NOTHING
    RETURNING * INTO stored;
    RETURN stored;
END;
$$;

-- Submit a task (docs/concepts/lifecycle.md). Returns the task and whether this call created it.
-- Idempotency keys belong to their submitter (created_by; submissions naming no agent share one
-- scope): the same key from the same submitter with the same content returns the first task
-- unchanged; with different content it is refused (a conflict), never silently dropped. The task
-- returned is what the caller may see (phoenix.task_as_seen): an agent-role caller gets another's
-- task only as the content it sent itself, with the id and status.
-- Dependencies must already exist and not have failed or been cancelled (the task could never
-- run; docs/concepts/lifecycle.md); since they are fixed at submission and
-- can only name existing tasks, the dependency graph cannot contain a cycle.
-- Locks: the dependencies in id order (so a dependency that completes concurrently is counted
-- exactly once), then the new row.
-- p_needs_person: the task asks for a person's verdict (docs/concepts/review.md#members); a
-- verdict needs a review, so such a task's quorum is at least 1.
-- Flow fields (docs/concepts/flow-control.md): p_not_before, a time before which the task is not
-- claimable (its claim order counts from it); p_concurrency_key and p_concurrency_limit, given
-- together, at most that many tasks with the key in flight (the key's slots are made here, once).
-- A resubmission with a key already used returns the first task as it was stored.
CREATE OR REPLACE FUNCTION phoenix.task_submit(
    p_title text, p_description text, p_category text, p_payload jsonb, p_priority integer,
    p_team text, p_created_by uuid, p_dopamine_reward real, p_max_attempts integer,
    p_review_quorum integer, p_depends_on uuid[], p_deadline timestamptz, p_fibonacci_size integer,
    p_idempotency_key text, p_now timestamptz DEFAULT NULL, p_needs_person boolean DEFAULT false,
    p_not_before timestamptz DEFAULT NULL, p_concurrency_key text DEFAULT NULL, p_concurrency_limit integer DEFAULT NULL,
    OUT task phoenix.tasks, OUT created boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_deps uuid[] := ARRAY(SELECT DISTINCT d FROM unnest(coalesce(p_depends_on, '{}')) AS d ORDER BY d);
    v_found integer;
    v_pending integer;
    v_ended record;
    v_missing uuid;
    v_new phoenix.tasks := phoenix.task_new(p_title, p_description, p_category, p_payload, p_priority, p_team,
                                            p_created_by, p_dopamine_reward, p_max_attempts, p_review_quorum,
                                            p_deadline, p_fibonacci_size, v_now, v_deps, p_idempotency_key);
BEGIN
    IF (p_concurrency_key IS NULL) <> (p_concurrency_limit IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = 'a concurrency key needs a concurrency limit and a limit needs a key; give both or neither';
    END IF;
    v_new.needs_person := coalesce(p_needs_person, false);
    IF p_not_before > v_new.available_at THEN
        v_new.available_at := p_not_before;
        v_new.claim_key := phoenix.claim_key(v_new.available_at, v_new.priority, v_new.hot_score, v_new.deadline);
    END IF;
    v_new.concurrency_key := p_concurrency_key;
    v_new.concurrency_limit := p_concurrency_limit;
    IF v_new.needs_person THEN
        v_new.review_quorum := greatest(v_new.review_quorum, 1);
    END IF;
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO task FROM phoenix.tasks
         WHERE idempotency_key = p_idempotency_key AND created_by IS NOT DISTINCT FROM p_created_by;
        IF FOUND THEN
            task := phoenix.task_resubmitted(task, v_new);
            created := false;
            RETURN;
        END IF;
    END IF;
    IF p_created_by IS NOT NULL THEN
        PERFORM phoenix.agent_active(p_created_by);
    END IF;
    IF cardinality(v_deps) > phoenix.k_depends_on_max() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('depends_on names %s tasks; the limit is %s', cardinality(v_deps), phoenix.k_depends_on_max()::integer);
    END IF;
    IF p_deadline IS NOT NULL AND p_deadline <= v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('deadline %s is not in the future; give a later deadline or none', p_deadline);
    END IF;

    SELECT count(*), count(*) FILTER (WHERE t.status <> 'complete')
      INTO v_found, v_pending
      FROM (SELECT id, status FROM phoenix.tasks WHERE id = ANY (v_deps) ORDER BY id FOR UPDATE) AS t;
    IF v_found < cardinality(v_deps) THEN
        SELECT d INTO v_missing FROM unnest(v_deps) AS d
         WHERE NOT EXISTS (SELECT 1 FROM phoenix.tasks WHERE id = d) LIMIT 1;
        RAISE EXCEPTION USING ERRCODE = 'PBNF0',
            MESSAGE = format('depends_on: task %s not found; submit it first', v_missing);
    END IF;
    SELECT id, status INTO v_ended FROM phoenix.tasks
     WHERE id = ANY (v_deps) AND status IN ('failed', 'cancelled') ORDER BY id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('depends_on: task %s %s, so this task could never run', v_ended.id,
                             CASE v_ended.status WHEN 'cancelled' THEN 'was cancelled' ELSE 'has failed' END);
    END IF;

    v_new.pending_deps := v_pending;
    task := phoenix.task_insert(v_new);
    IF task.id IS NULL THEN
        -- a concurrent submission with the same key won the race
        SELECT * INTO task FROM phoenix.tasks
         WHERE idempotency_key = p_idempotency_key AND created_by IS NOT DISTINCT FROM p_created_by;
        task := phoenix.task_resubmitted(task, v_new);
        created := false;
        RETURN;
    END IF;

    -- one row per link: adding a dependent costs the same however many the dependency has
    INSERT INTO phoenix.task_dependencies (task_id, depends_on) SELECT task.id, d FROM unnest(v_deps) AS d;
    -- the key's slots up to this task's limit (once: a key keeps its slots)
    IF p_concurrency_key IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM phoenix.concurrency_slots WHERE key = p_concurrency_key AND slot = p_concurrency_limit) THEN
        INSERT INTO phoenix.concurrency_slots (key, slot)
        SELECT p_concurrency_key, n FROM generate_series(1, p_concurrency_limit) AS n
        ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (task.id, 'submitted', p_created_by, 0, v_now,
            jsonb_build_object('team', task.team, 'pending_deps', v_pending));
    created := true;
END;
$$;

-- A submission whose key its submitter already used: the first task when the content is the same
-- (p_new: what phoenix.task_new made of this submission, defaults filled in), else a conflict
-- naming the key. Returned as the caller may see it, with the content the caller sent (its own)
-- put back.
CREATE OR REPLACE FUNCTION phoenix.task_resubmitted(t phoenix.tasks, p_new phoenix.tasks)
RETURNS phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    seen phoenix.tasks;
BEGIN
    IF (t.title, t.description, t.category, t.payload, t.priority, t.team, t.dopamine_reward, t.max_attempts,
        t.review_quorum, t.depends_on, t.deadline, t.fibonacci_size, t.needs_person)
       IS DISTINCT FROM
       (p_new.title, p_new.description, p_new.category, p_new.payload, p_new.priority, p_new.team,
        p_new.dopamine_reward, p_new.max_attempts, p_new.review_quorum, p_new.depends_on, p_new.deadline,
        p_new.fibonacci_size, p_new.needs_person) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('idempotency key %s was already used for a different task; use a new key for new content',
                             left(t.idempotency_key, 60));
    END IF;
    seen := phoenix.task_as_seen(t);
    seen.title := t.title; seen.description := t.description; seen.category := t.category;
    seen.payload := t.payload; seen.deadline := t.deadline; seen.depends_on := t.depends_on;
    seen.idempotency_key := t.idempotency_key; seen.created_by := t.created_by;
    RETURN seen;
END;
$$;
