-- Limits on what a task row holds, enforced in the database (docs/errors.md) so they
-- hold through every door: board/models.py checks the same limits first, with friendlier
-- messages, but an agent calling the agent API in SQL meets these. The numbers are constants.py's.

-- How deeply objects and arrays nest in a JSON value (a scalar is 0, {} is 1, {"a": []} is 2),
-- counted level by level without recursion, so a document 3,000 levels deep is measured, not a
-- stack overflow; with p_stop, counting stops once past it.
CREATE OR REPLACE FUNCTION phoenix.jsonb_depth(p jsonb, p_stop integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    level jsonb[] := CASE WHEN jsonb_typeof(p) IN ('object', 'array') THEN ARRAY[p] ELSE '{}' END;
    depth integer := 0;
BEGIN
    WHILE cardinality(level) > 0 LOOP
        depth := depth + 1;
        EXIT WHEN depth > p_stop;
        level := ARRAY(
            SELECT e.v FROM unnest(level) AS x (doc),
                   LATERAL (SELECT value FROM jsonb_each(CASE WHEN jsonb_typeof(x.doc) = 'object' THEN x.doc END)
                            UNION ALL
                            SELECT value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(x.doc) = 'array' THEN x.doc END)
                           ) AS e (v)
             WHERE jsonb_typeof(e.v) IN ('object', 'array'));
    END LOOP;
    RETURN depth;
END;
$$;

-- What is wrong with a stored JSON document, or NULL: too long (PostgreSQL's text form, see
-- PAYLOAD_STORED_MAX_BYTES) or nested deeper than PAYLOAD_DEPTH_MAX. Size first: it is cheap.
CREATE OR REPLACE FUNCTION phoenix.json_limits_error(p jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_text text;
    v_bytes bigint;
BEGIN
    IF p IS NULL THEN
        RETURN NULL;
    END IF;
    v_text := p::text;
    v_bytes := octet_length(v_text);
    IF v_bytes > phoenix.k_payload_stored_max_bytes() THEN
        RETURN format('is %s bytes as stored; the limit is %s', v_bytes, phoenix.k_payload_stored_max_bytes()::bigint);
    END IF;
    -- every level of nesting opens with its own { or [, so a text with no more of them than the
    -- limit cannot nest deeper (brackets inside strings only count too many): almost every
    -- document is passed here without the level-by-level walk, which cost a result a fifth of a
    -- millisecond (docs/costs.md)
    IF length(v_text) - length(translate(v_text, '{[', '')) <= phoenix.k_payload_depth_max() THEN
        RETURN NULL;
    END IF;
    IF phoenix.jsonb_depth(p, phoenix.k_payload_depth_max()::integer) > phoenix.k_payload_depth_max() THEN
        RETURN format('nests more than %s levels of objects and arrays', phoenix.k_payload_depth_max()::integer);
    END IF;
    RETURN NULL;
END;
$$;

-- The row check: payload an object, payload and output within the JSON limits, deadline before TIME_MAX (a time
-- past year 9999 in UTC would be stored and then break every reader: listing, agents, the CLI).
CREATE OR REPLACE FUNCTION phoenix.tasks_check_limits()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_error text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.payload IS DISTINCT FROM OLD.payload THEN
        -- agents load the payload as an object (models.Task): anything else could never be worked
        IF jsonb_typeof(NEW.payload) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'payload must be a JSON object';
        END IF;
        v_error := phoenix.json_limits_error(NEW.payload);
        IF v_error IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'payload ' || v_error;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.output IS DISTINCT FROM OLD.output THEN
        v_error := phoenix.json_limits_error(NEW.output);
        IF v_error IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'output ' || v_error;
        END IF;
    END IF;
    IF NEW.deadline >= to_timestamp(phoenix.k_time_max_epoch_seconds()) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('deadline must be before %s; give an earlier deadline or none',
                             to_char(to_timestamp(phoenix.k_time_max_epoch_seconds()) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER tasks_check_limits BEFORE INSERT OR UPDATE OF payload, output, deadline ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.tasks_check_limits();

-- A rule of a row broken: the error a CHECK constraint of that name raises (SQLSTATE 23514, the
-- constraint's name), so that board/db.py translates it by name as before.
CREATE OR REPLACE FUNCTION phoenix.check_failed(p_table text, p_constraint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'check_violation', SCHEMA = 'phoenix', TABLE = p_table, CONSTRAINT = p_constraint,
        MESSAGE = format('new row for relation "%s" violates check constraint "%s"', p_table, p_constraint);
END;
$$;

-- The rules of a task's columns that no claim, start, result or failure changes: set at the
-- submission (or by delegation, an edit, a child's creation). They were CHECK constraints
-- until migration 0031: PostgreSQL prepares every CHECK of a table again for each statement that
-- writes a row, whatever columns it sets, so each claim and result paid for these 18 (two thirds
-- of the table's stored check expressions, docs/costs.md). This trigger fires only for
-- statements that set one of these columns. Checked in the order of their names, as PostgreSQL
-- checks constraints; the value limits are constants.py's. A NULL passes, as in a CHECK.
CREATE OR REPLACE FUNCTION phoenix.tasks_check_row()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT coalesce(NEW.category ~ '^[a-z][a-z0-9_.-]{0,62}$', true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_category_format');
    END IF;
    IF NOT coalesce((NEW.parent_id IS NULL) = (NEW.child_key IS NULL), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_child_has_key');
    END IF;
    IF NOT coalesce(length(NEW.child_key) BETWEEN 1 AND 200, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_child_key_length');
    END IF;
    IF NOT coalesce(length(NEW.concurrency_key) BETWEEN 1 AND phoenix.k_idempotency_key_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_concurrency_key_length');
    END IF;
    IF NOT coalesce(NEW.concurrency_limit BETWEEN 1 AND phoenix.k_concurrency_limit_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_concurrency_limit_range');
    END IF;
    IF NOT coalesce((NEW.concurrency_key IS NULL) = (NEW.concurrency_limit IS NULL), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_concurrency_pair');
    END IF;
    -- a bound on the column, wider than delegation's own limit (DELEGATION_DEPTH_MAX)
    IF NOT coalesce(NEW.depth BETWEEN 0 AND 100, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_depth_range');
    END IF;
    IF NOT coalesce(length(NEW.description) <= phoenix.k_description_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_description_length');
    END IF;
    IF NOT coalesce(NEW.dopamine_reward BETWEEN 0 AND phoenix.k_dopamine_reward_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_dopamine_reward_range');
    END IF;
    IF NOT coalesce(NEW.fibonacci_size IN (1, 2, 3, 5, 8, 13, 21), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_fibonacci_size');
    END IF;
    IF NOT coalesce(length(NEW.idempotency_key) BETWEEN 1 AND phoenix.k_idempotency_key_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_idempotency_key_length');
    END IF;
    IF NOT coalesce(NEW.join_k >= 1, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_join_k_range');
    END IF;
    IF NOT coalesce(NEW.max_attempts BETWEEN 1 AND phoenix.k_max_attempts_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_max_attempts_range');
    END IF;
    IF NOT coalesce(NEW.on_child_failure IN ('fail', 'ignore'), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_on_child_failure');
    END IF;
    IF NOT coalesce(NEW.priority BETWEEN phoenix.k_priority_min() AND phoenix.k_priority_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_priority_range');
    END IF;
    IF NOT coalesce(NEW.review_quorum BETWEEN 0 AND phoenix.k_review_quorum_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_review_quorum_range');
    END IF;
    IF NOT coalesce(length(NEW.title) BETWEEN 1 AND phoenix.k_title_max(), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_title_length');
    END IF;
    IF NOT coalesce((NEW.parent_id IS NULL) = (NEW.root_id IS NULL) AND (NEW.parent_id IS NULL) = (NEW.depth = 0), true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_tree_consistent');
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER tasks_check_row
    BEFORE INSERT OR UPDATE OF category, parent_id, child_key, concurrency_key, concurrency_limit, depth, description,
        dopamine_reward, fibonacci_size, idempotency_key, join_k, max_attempts, on_child_failure, priority,
        review_quorum, title, root_id
    ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.tasks_check_row();

-- The rules of a task's counters, each kept by the statement that moves it (a vote, a comment, a
-- child's creation or end, a dependency's end) and none set by a claim, start, result or failure
-- of the row itself: CHECK constraints until migration 0035, for the reason given above. In the
-- order of their names; a NULL passes, as in a CHECK.
CREATE OR REPLACE FUNCTION phoenix.tasks_check_counts()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT coalesce(NEW.children_done >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_children_done_check');
    END IF;
    IF NOT coalesce(NEW.children_failed >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_children_failed_check');
    END IF;
    IF NOT coalesce(NEW.children_total >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_children_total_check');
    END IF;
    IF NOT coalesce(NEW.comment_count >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_comment_count_check');
    END IF;
    IF NOT coalesce(NEW.descendants >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_descendants_check');
    END IF;
    IF NOT coalesce(NEW.downvotes >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_downvotes_check');
    END IF;
    IF NOT coalesce(NEW.children_done + NEW.children_failed <= NEW.children_total, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_join_counts');
    END IF;
    IF NOT coalesce(NEW.pending_deps >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_pending_deps_check');
    END IF;
    IF NOT coalesce(NEW.upvotes >= 0, true) THEN
        PERFORM phoenix.check_failed('tasks', 'tasks_upvotes_check');
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER tasks_check_counts
    BEFORE INSERT OR UPDATE OF children_done, children_failed, children_total, comment_count, descendants, downvotes,
        pending_deps, upvotes
    ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.tasks_check_counts();

-- The same for an agent's columns that its heartbeats, claims and outcomes never change (the
-- CHECK constraints of these names until migration 0031).
CREATE OR REPLACE FUNCTION phoenix.agents_check_row()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT coalesce(NEW.codename ~ '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$', true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_codename_format');
    END IF;
    IF NOT coalesce(NEW.kind IN ('agent', 'member'), true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_kind');
    END IF;
    IF NOT coalesce(NOT (NEW.id = ANY (NEW.paired_agents)), true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_not_own_partner');
    END IF;
    IF NOT coalesce(NEW.supervisor_agent IS DISTINCT FROM NEW.id, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_not_own_supervisor');
    END IF;
    IF NOT coalesce(length(NEW.role) BETWEEN 1 AND phoenix.k_role_max(), true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_role_length');
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER agents_check_row
    BEFORE INSERT OR UPDATE OF codename, kind, paired_agents, supervisor_agent, role, id
    ON phoenix.agents
    FOR EACH ROW EXECUTE FUNCTION phoenix.agents_check_row();

-- The rules of an agent's outcome columns (its hormones, trust, counters and level), which only
-- outcomes, reviews, cascades and the beat's decay set; CHECK constraints until migration 0035,
-- paid by every update of the row, heartbeats and claims included. In the order of their names; a
-- NULL passes, as in a CHECK.
CREATE OR REPLACE FUNCTION phoenix.agents_check_outcome()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT coalesce(NEW.fibonacci_level >= 1, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_fibonacci_level_check');
    END IF;
    -- each of the four a number: a missing one is refused too (as a CHECK it passed, being NULL)
    IF NEW.hormone_levels IS NOT NULL
       AND (jsonb_typeof(NEW.hormone_levels -> 'dopamine') IS DISTINCT FROM 'number'
            OR jsonb_typeof(NEW.hormone_levels -> 'oxytocin') IS DISTINCT FROM 'number'
            OR jsonb_typeof(NEW.hormone_levels -> 'adrenaline') IS DISTINCT FROM 'number'
            OR jsonb_typeof(NEW.hormone_levels -> 'cortisol') IS DISTINCT FROM 'number') THEN
        PERFORM phoenix.check_failed('agents', 'agents_hormones_shape');
    END IF;
    IF NOT coalesce(NEW.success_rate >= 0 AND NEW.success_rate <= 1, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_success_rate_check');
    END IF;
    IF NOT coalesce(NEW.tasks_completed >= 0, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_tasks_completed_check');
    END IF;
    IF NOT coalesce(NEW.tasks_failed >= 0, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_tasks_failed_check');
    END IF;
    IF NOT coalesce(NEW.trust_r >= 0, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_trust_r');
    END IF;
    IF NOT coalesce(NEW.trust_coefficient >= 0 AND NEW.trust_coefficient <= 1, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_trust_range');
    END IF;
    IF NOT coalesce(NEW.trust_s >= 0, true) THEN
        PERFORM phoenix.check_failed('agents', 'agents_trust_s');
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER agents_check_outcome
    BEFORE INSERT OR UPDATE OF fibonacci_level, hormone_levels, success_rate, tasks_completed, tasks_failed, trust_r,
        trust_coefficient, trust_s
    ON phoenix.agents
    FOR EACH ROW EXECUTE FUNCTION phoenix.agents_check_outcome();
