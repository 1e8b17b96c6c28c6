-- Who may review a task (docs/concepts/review.md): never its executor; an agent in service of its team
-- or a specialist of its category (phoenix.agent_judges, the rule row-level security shows tasks
-- by); once the task has waited REVIEW_WIDEN_SECONDS in review, any agent in service, since
-- a pool that cannot reach the quorum would otherwise hold it for ever. Row-level security shows
-- a widened task to every agent (sql/security/roles.sql), so a reviewer always sees what it judges.
-- (STABLE, as timestamptz minus interval is: declared IMMUTABLE, it was never inlined)
CREATE OR REPLACE FUNCTION phoenix.review_widened(p_since timestamptz, p_now timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT p_since <= p_now - make_interval(secs => phoenix.k_review_widen_seconds()) $$;

-- The same, with the review rule's widening: a task left in review past REVIEW_WIDEN_SECONDS may be
-- seen and reviewed by any agent (docs/concepts/review.md).
CREATE OR REPLACE FUNCTION phoenix.agent_sees_task(
    p_assigned_to uuid, p_created_by uuid, p_status phoenix.task_status, p_team text, p_category text,
    p_review_since timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT phoenix.agent_sees_task(p_assigned_to, p_created_by, p_status, p_team, p_category)
        OR (p_status = 'review' AND phoenix.review_widened(p_review_since, now()))
$$;

-- A member (a person, docs/concepts/review.md#members) may review any task in review but one it
-- submitted, with no place claimed: people are the reviewers of last resort, of every team.
-- (STABLE, as review_widened is)
CREATE OR REPLACE FUNCTION phoenix.agent_may_review(a phoenix.agents, t phoenix.tasks, p_now timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT a.id IS DISTINCT FROM t.assigned_to AND a.decommissioned_at IS NULL
       AND CASE WHEN a.kind = 'member' THEN a.id IS DISTINCT FROM t.created_by
                ELSE phoenix.agent_judges(a, t.team, t.category) OR phoenix.review_widened(t.review_since, p_now) END
$$;

-- A peer's verdict on the result of the current attempt (docs/concepts/review.md). Never the executor.
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
    v_verdict text;  -- the verdict as the event it is to the executor: 'approved' or 'rejected'
BEGIN
    IF p_verdict IS NULL OR p_verdict NOT IN (-1, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('verdict must be +1 or -1, not %s', p_verdict);
    END IF;
    -- the decision may settle a child: its tree's root first (docs/concepts/delegation.md)
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
    -- a reviewer is an agent allowed to see the task: another team's verdict must not decide it
    IF a.kind = 'member' AND NOT phoenix.agent_may_review(a, task, v_now) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBSV0',
            MESSAGE = format('member %s cannot review task %s: it submitted it', a.codename, p_task);
    END IF;
    IF NOT phoenix.agent_may_review(a, task, v_now) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('agent %s may not review task %s: reviewers are agents of team %s and specialists of %s '
                             '(any agent once it has waited %s s in review)', a.codename, p_task, task.team,
                             task.category, phoenix.k_review_widen_seconds()::bigint);
    END IF;
    INSERT INTO phoenix.task_reviews (task_id, attempt, agent_id, verdict, weight, reason, at)
    VALUES (p_task, task.attempt, p_agent, p_verdict, a.trust_coefficient, p_reason, v_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s already reviewed attempt %s of task %s', a.codename, task.attempt, p_task);
    END IF;
    -- the place this agent claimed (if it claimed one) is filled
    DELETE FROM phoenix.review_assignments WHERE task_id = p_task AND attempt = task.attempt AND agent_id = p_agent;
    INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
    VALUES (p_task, 'reviewed', p_agent, task.attempt, v_now, jsonb_build_object('verdict', p_verdict, 'weight', a.trust_coefficient));

    SELECT count(*), coalesce(sum(weight * verdict), 0) INTO v_count, v_sum
      FROM phoenix.task_reviews WHERE task_id = p_task AND attempt = task.attempt;
    v_executor := task.assigned_to;
    v_attempt := task.attempt;
    -- A partner may approve its partner's work, but the pair alone cannot complete it: approval
    -- waits (the task stays in review) until an agent from outside the pair approves too
    -- (docs/concepts/partners.md). Rejection needs no such vote.
    -- A task that asks for a person is not decided without a member's verdict, either way.
    v_decide := v_count >= task.review_quorum
        AND (NOT task.needs_person OR EXISTS (
            SELECT 1 FROM phoenix.task_reviews r JOIN phoenix.agents m ON m.id = r.agent_id
             WHERE r.task_id = p_task AND r.attempt = task.attempt AND m.kind = 'member'))
        AND (v_sum <= 0 OR EXISTS (
        SELECT 1 FROM phoenix.task_reviews r
         WHERE r.task_id = p_task AND r.attempt = task.attempt AND r.verdict > 0
           AND NOT (r.agent_id = ANY ((SELECT e.paired_agents FROM phoenix.agents e WHERE e.id = task.assigned_to)::uuid[]))));
    -- task rows first (the decision may touch dependents and a parent), agents after: the board's
    -- lock order
    IF v_decide THEN
        DELETE FROM phoenix.review_assignments WHERE task_id = p_task;
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

    -- Then every agent row this review writes, in id order, before the first write: the executor,
    -- and with a decision every reviewer of the attempt (rated below). Taken one by one as they
    -- were written, two reviews whose executors review each other's work waited on each other.
    PERFORM 1 FROM phoenix.agents
     WHERE id = v_executor
        OR (decided IS NOT NULL AND id IN (SELECT r.agent_id FROM phoenix.task_reviews r
                                            WHERE r.task_id = p_task AND r.attempt = v_attempt))
     ORDER BY id FOR NO KEY UPDATE;
    -- The verdict's hormones and the reviewer's rating of the work, and with a decision the
    -- outcome after them, in one update of the executor's row: each further update of a row this
    -- transaction wrote checks the agent's team key again (a lock on the team's row) and writes
    -- another copy of the row (docs/costs.md). Each verdict rates the work, this one included, so
    -- the outcome rates nothing itself.
    v_verdict := CASE WHEN p_verdict > 0 THEN 'approved' ELSE 'rejected' END;
    IF decided IS NULL THEN
        PERFORM phoenix.agent_rated(v_executor, phoenix.hormone_response(v_verdict), e.positive, e.negative,
                                    p_agent, 'review', p_task, v_now, jsonb_build_object('attempt', v_attempt))
           FROM phoenix.trust_evidence(v_verdict, a.trust_coefficient) AS e;
        RETURN;
    END IF;
    PERFORM phoenix.agent_outcome(v_executor, p_task, v_approved,
                                  CASE WHEN v_approved THEN task.quality_score END,
                                  CASE WHEN v_approved THEN task.dopamine_reward END,
                                  CASE WHEN v_approved THEN task.completed_at - task.claimed_at END,
                                  false, decided, v_now,
                                  phoenix.hormone_response(v_verdict), e.positive, e.negative,
                                  p_agent, 'review', jsonb_build_object('attempt', v_attempt))
       FROM phoenix.trust_evidence(v_verdict, a.trust_coefficient) AS e;
    -- each reviewer is rated once per task attempt, however often the attempt is decided
    FOR v_reviewer IN
        SELECT r.agent_id, r.verdict FROM phoenix.task_reviews r
         WHERE r.task_id = p_task AND r.attempt = v_attempt
           AND NOT EXISTS (SELECT 1 FROM phoenix.agent_interactions i
                            WHERE i.agent_to = r.agent_id AND i.task_id = p_task AND i.interaction_type = 'consensus'
                              AND i.metadata ->> 'attempt' = v_attempt::text)
         ORDER BY r.agent_id
    LOOP
        PERFORM phoenix.trust_rate(v_reviewer.agent_id, e.positive, e.negative,
            NULL, 'consensus', p_task, v_now, jsonb_build_object('attempt', v_attempt, 'decided', decided))
           FROM phoenix.trust_evidence(CASE WHEN (v_reviewer.verdict > 0) = v_approved THEN 'agreed' ELSE 'disagreed' END) AS e;
    END LOOP;
END;
$$;

-- The places a task in review still offers: quorum minus the verdicts given; once the quorum is
-- met and the task is still in review (a pair alone approved), one more, for an agent from outside
-- the pair.
CREATE OR REPLACE FUNCTION phoenix.review_places(t phoenix.tasks, p_verdicts bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$ SELECT greatest(t.review_quorum - p_verdicts, 1) $$;

-- May agent a take a place among the reviewers of task c (in review) now? It may review it, has
-- not reviewed this attempt and holds no live place on it, a place is free (not held by a live
-- assignment), and past the quorum only an agent from outside the executor's pair. The review
-- claim and the idle poller's count both ask this, so the poller never wakes an agent for a
-- review it could not take.
CREATE OR REPLACE FUNCTION phoenix.review_place_open(a phoenix.agents, c phoenix.tasks, p_now timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT a.kind = 'agent' AND phoenix.agent_may_review(a, c, p_now)
       AND NOT EXISTS (SELECT 1 FROM phoenix.task_reviews r
                        WHERE r.task_id = c.id AND r.attempt = c.attempt AND r.agent_id = a.id)
       -- past its quorum a task that waits for a person waits for a member, not for more agents
       AND (NOT c.needs_person
            OR (SELECT count(*) FROM phoenix.task_reviews r WHERE r.task_id = c.id AND r.attempt = c.attempt)
               < c.review_quorum)
       AND NOT EXISTS (SELECT 1 FROM phoenix.review_assignments s
                        WHERE s.task_id = c.id AND s.attempt = c.attempt AND s.agent_id = a.id
                          AND s.lease_expires_at > p_now)
       AND (SELECT count(*) FROM phoenix.review_assignments s
             WHERE s.task_id = c.id AND s.attempt = c.attempt AND s.lease_expires_at > p_now)
           < phoenix.review_places(c, (SELECT count(*) FROM phoenix.task_reviews r
                                        WHERE r.task_id = c.id AND r.attempt = c.attempt))
       AND ((SELECT count(*) FROM phoenix.task_reviews r WHERE r.task_id = c.id AND r.attempt = c.attempt)
                < c.review_quorum
            OR NOT (a.id = ANY (coalesce((SELECT e.paired_agents FROM phoenix.agents e WHERE e.id = c.assigned_to),
                                         '{}'::uuid[]))))
$$;

-- Claim a review, as a task is claimed (docs/concepts/review.md): the oldest task in review that this
-- agent may review, has not reviewed, and that still has a free place (places not taken by a
-- live assignment). The place is held until p_lease_seconds from now; a verdict fills it, an
-- expired one is free again, so a reviewer that dies only delays the verdict. SKIP LOCKED: a
-- task being decided is skipped, claimers never wait. No agent row is locked.
CREATE OR REPLACE FUNCTION phoenix.task_review_claim(p_agent uuid, p_lease_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_lease interval := phoenix.lease(p_lease_seconds);
    a phoenix.agents := phoenix.agent_active(p_agent);
    t phoenix.tasks;
BEGIN
    IF a.kind = 'member' THEN
        RAISE EXCEPTION USING ERRCODE = 'PBFB0',
            MESSAGE = format('%s is a member (a person): members review a task directly (task review), they claim no place',
                             a.codename);
    END IF;
    SELECT * INTO t FROM phoenix.tasks c
     WHERE c.status = 'review' AND phoenix.review_place_open(a, c, v_now)
     ORDER BY c.review_since, c.id
     LIMIT 1
       FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO phoenix.review_assignments (task_id, attempt, agent_id, assigned_at, lease_expires_at)
    VALUES (t.id, t.attempt, p_agent, v_now, v_now + v_lease)
    ON CONFLICT (task_id, attempt, agent_id) DO UPDATE
        SET assigned_at = EXCLUDED.assigned_at, lease_expires_at = EXCLUDED.lease_expires_at;
    RETURN NEXT t;
END;
$$;

-- How many reviews agents of a team could claim now, up to p_cap: the idle poller wakes agents
-- for them as for claimable tasks, so a review never waits on a message. A count only.
CREATE OR REPLACE FUNCTION phoenix.reviews_claimable_count(p_team text, p_cap integer)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM phoenix.tasks c
         WHERE c.status = 'review'
           AND EXISTS (SELECT 1 FROM phoenix.agents a
                        WHERE a.team = p_team
                          AND a.last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())
                          AND phoenix.review_place_open(a, c, now()))
         LIMIT p_cap) AS claimable
$$;

-- The review deadline (docs/concepts/review.md): a task still in review REVIEW_EXPIRE_SECONDS after its
-- result went there fails for good with the reason, and its dependents with it; its executor is
-- not rated (the work was never judged). Run by the beat; SKIP LOCKED and a batch limit, the
-- tree's root first as every transition that may settle a child. Returns the tasks it ended.
-- A task that asks for a person (needs_person) waits REVIEW_PERSON_EXPIRE_SECONDS instead: people
-- answer in days, not minutes.
CREATE OR REPLACE FUNCTION phoenix.tasks_review_expire(p_now timestamptz DEFAULT NULL, p_limit integer DEFAULT 100)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v record;
    t phoenix.tasks;
    v_reason text;
    v_verdicts bigint;
BEGIN
    FOR v IN SELECT id, root_id FROM phoenix.tasks
              WHERE status = 'review' AND review_since <= v_now - make_interval(secs => phoenix.k_review_expire_seconds())
                AND (NOT needs_person
                     OR review_since <= v_now - make_interval(secs => phoenix.k_review_person_expire_seconds()))
              ORDER BY review_since, id LIMIT p_limit
    LOOP
        IF v.root_id IS NOT NULL THEN
            PERFORM 1 FROM phoenix.tasks WHERE id = v.root_id FOR NO KEY UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
        END IF;
        SELECT * INTO t FROM phoenix.tasks
         WHERE id = v.id AND status = 'review'
           AND review_since <= v_now - make_interval(secs => phoenix.k_review_expire_seconds())
           AND (NOT needs_person
                OR review_since <= v_now - make_interval(secs => phoenix.k_review_person_expire_seconds()))
           FOR NO KEY UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        SELECT count(*) INTO v_verdicts FROM phoenix.task_reviews WHERE task_id = t.id AND attempt = t.attempt;
        v_reason := CASE WHEN t.needs_person
            THEN format('no member reviewed it within %s s (%s verdict(s)); it asked for a person''s verdict',
                        phoenix.k_review_person_expire_seconds()::bigint, v_verdicts)
            ELSE format('review quorum of %s not reached within %s s (%s verdict(s)); no eligible reviewer decided it',
                        t.review_quorum, phoenix.k_review_expire_seconds()::bigint, v_verdicts) END;
        UPDATE phoenix.tasks SET status = 'failed', completed_at = v_now, last_error = v_reason
         WHERE id = t.id RETURNING * INTO t;
        DELETE FROM phoenix.review_assignments WHERE task_id = t.id;
        INSERT INTO phoenix.task_events (task_id, kind, agent_id, attempt, at, detail)
        VALUES (t.id, 'review_expired', NULL, t.attempt, v_now,
                jsonb_build_object('reason', v_reason, 'final', true, 'verdicts', v_verdicts));
        PERFORM phoenix.task_fail_dependents(t.id, v_now);
        IF t.parent_id IS NOT NULL THEN
            PERFORM phoenix.task_child_settled(t.id, v_now);
        END IF;
        RETURN NEXT t;
    END LOOP;
END;
$$;

-- How many live agents may review a task of this team and category (before the pool widens): the
-- submitter's warning that a quorum cannot be met. A count only, so an agent that submits through
-- the queue may ask it (it may not read other teams' agents).
CREATE OR REPLACE FUNCTION phoenix.review_pool_size(p_team text, p_category text)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*) FROM phoenix.agents a
     WHERE a.kind = 'agent' AND phoenix.agent_judges(a, p_team, p_category)
       AND a.last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())
$$;

-- Up to p_n live agents whose specialization includes a category (not p_exclude), in random
-- order: whom a new task's assessment requests go to. Ids and teams only (where to send them), so
-- an agent that submits through the queue may ask it.
CREATE OR REPLACE FUNCTION phoenix.assessors_for(p_category text, p_exclude uuid, p_n integer)
RETURNS TABLE (id uuid, team text)
LANGUAGE sql STABLE
AS $$
    SELECT a.id, a.team FROM phoenix.agents a
     WHERE a.kind = 'agent' AND a.decommissioned_at IS NULL AND p_category = ANY (a.specialization)
       AND a.id IS DISTINCT FROM p_exclude
       AND a.last_heartbeat > now() - make_interval(secs => phoenix.k_active_agent_seconds())
     ORDER BY random()
     LIMIT p_n
$$;
