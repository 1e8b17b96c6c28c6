-- Who is calling, and for which agent (docs/concepts/security.md).
--
-- Agents act only through the board's functions, which run as the owner (SECURITY DEFINER, set
-- up by sql/security.sql). Each transaction of an agent-role session names its agent in the
-- setting phoenix.agent_id (the seed's), and every function that acts for an agent checks it:
-- a session may act only for the agent it named. The owner role (operators, the beat, tests)
-- may act for any agent and may pass explicit times; agents run on the server's clock.

-- The role that called into the board: the role chosen with SET ROLE, else the session's login.
-- (Inside a SECURITY DEFINER function current_user is the owner; the GUC "role" still holds the
-- caller's SET ROLE.)
CREATE OR REPLACE FUNCTION phoenix.invoker()
RETURNS name
LANGUAGE sql STABLE
AS $$ SELECT CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role')::name END $$;

CREATE OR REPLACE FUNCTION phoenix.caller_is_owner()
RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT pg_has_role(phoenix.invoker(), phoenix.owner_role(), 'MEMBER') $$;

-- The agent this transaction acts for (NULL when unset); row-level security reads it too.
CREATE OR REPLACE FUNCTION phoenix.acting_agent()
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('phoenix.agent_id', true), '')::uuid $$;

-- Refuses to act for p_agent unless this transaction named it, or the caller is the owner.
CREATE OR REPLACE FUNCTION phoenix.act_as(p_agent uuid)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_acting uuid := phoenix.acting_agent();
BEGIN
    IF v_acting IS NOT NULL THEN
        IF p_agent IS DISTINCT FROM v_acting THEN
            RAISE EXCEPTION USING ERRCODE = 'PBFB0',
                MESSAGE = format('this transaction acts for agent %s (phoenix.agent_id), not for agent %s', v_acting, p_agent);
        END IF;
    ELSIF NOT phoenix.caller_is_owner() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('role %s must name its agent in phoenix.agent_id to act for agent %s', phoenix.invoker(), p_agent);
    END IF;
END;
$$;

-- The time of a transition: the server's clock, or an explicit time, which only the owner may
-- give (tests, replays); an agent that could pass its own "now" could expire others' leases.
CREATE OR REPLACE FUNCTION phoenix.clock(p_now timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_now IS NULL THEN
        RETURN now();
    END IF;
    IF NOT phoenix.caller_is_owner() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('role %s may not pass an explicit time; agents act at the server''s clock', phoenix.invoker());
    END IF;
    RETURN p_now;
END;
$$;

-- A lease length, checked: a claim cannot be held for longer than LEASE_MAX_SECONDS at a time.
CREATE OR REPLACE FUNCTION phoenix.lease(p_seconds float8)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_seconds IS NULL OR NOT (p_seconds > 0 AND p_seconds <= phoenix.k_lease_max_seconds()) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('lease must be more than 0 and at most %s seconds, not %s',
                             phoenix.k_lease_max_seconds()::bigint, p_seconds);
    END IF;
    RETURN make_interval(secs => p_seconds);
END;
$$;

-- Row-level security for tasks: may the acting agent judge (assess, review) a task of this team
-- and category? Agents of its team and specialists of its category may. SECURITY DEFINER (set in
-- sql/security.sql) so that it can read the acting agent's row.
CREATE OR REPLACE FUNCTION phoenix.agent_may_judge(p_team text, p_category text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM phoenix.agents a
                    WHERE a.id = phoenix.acting_agent() AND phoenix.agent_judges(a, p_team, p_category))
$$;

-- The rule itself, for one agent: in service, and of the team or a specialist of the category.
-- task_review and the review claim apply it too, so a reviewer is always an agent that sees the task.
CREATE OR REPLACE FUNCTION phoenix.agent_judges(a phoenix.agents, p_team text, p_category text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT a.decommissioned_at IS NULL AND (a.team = p_team OR p_category = ANY (a.specialization)) $$;

-- May the acting agent see this task? The one rule behind the tasks policy agent_reads (sql/security/
-- roles.sql) and behind what the board's functions return to an agent-role caller: the tasks it
-- holds or submitted, and open or in-review tasks it may judge. A plain SQL expression, so that
-- the policy inlines it.
CREATE OR REPLACE FUNCTION phoenix.agent_sees_task(
    p_assigned_to uuid, p_created_by uuid, p_status phoenix.task_status, p_team text, p_category text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(p_assigned_to = phoenix.acting_agent(), false)
        OR coalesce(p_created_by = phoenix.acting_agent(), false)
        OR (p_status IN ('open', 'review') AND phoenix.agent_may_judge(p_team, p_category))
$$;

-- A task row as the caller may see it (docs/concepts/security.md): whole for the owner and for an agent
-- that sees the task; otherwise only its id, team, status and public counts, the rest NULL or
-- empty. Functions that act on a task the caller may not read (a vote, a repeated submission)
-- return this instead of the row they locked, so no function reads around row-level security.
CREATE OR REPLACE FUNCTION phoenix.task_as_seen(t phoenix.tasks)
RETURNS phoenix.tasks
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF t.id IS NULL OR phoenix.caller_is_owner()
       OR phoenix.agent_sees_task(t.assigned_to, t.created_by, t.status, t.team, t.category, t.review_since) THEN
        RETURN t;
    END IF;
    t.title := NULL; t.description := NULL; t.category := NULL; t.payload := NULL; t.output := NULL;
    t.quality_score := NULL; t.last_error := NULL; t.assigned_to := NULL; t.created_by := NULL;
    t.delegated_by := NULL; t.escalated_to := NULL; t.idempotency_key := NULL; t.child_key := NULL;
    t.parent_id := NULL; t.root_id := NULL; t.deadline := NULL; t.lease_expires_at := NULL;
    t.depends_on := '{}'; t.preferred_agents := '{}';
    RETURN t;
END;
$$;
