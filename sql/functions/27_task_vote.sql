-- Cast (+1, -1) or retract (0) a vote on a task (docs/guide.md). One vote per agent per task; a
-- change of mind moves the counts relatively; the task row is locked first, so concurrent votes
-- on one task queue up and no count is lost. Not on one's own task (author or claimant).
-- Recomputes hot rank, controversy and the claim key. A new upvote gives the author oxytocin,
-- a new downvote cortisol. A change writes one task.voted outbox row (the counts after it, for
-- open pages; docs/concepts/event-stream.md); a repeated vote changes nothing and writes none. Agents may vote on tasks they cannot read (ranking is public); the row
-- returned is then only what they may see of it (phoenix.task_as_seen): id, status and counts.
CREATE OR REPLACE FUNCTION phoenix.task_vote(
    p_task uuid, p_agent uuid, p_vote integer, p_reason text, p_now timestamptz DEFAULT NULL,
    OUT task phoenix.tasks, OUT previous integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    a phoenix.agents;
    du integer := 0;
    dd integer := 0;
BEGIN
    IF p_vote IS NULL OR p_vote NOT IN (-1, 0, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('vote must be +1, -1 or 0 (retract), not %s', p_vote);
    END IF;
    SELECT * INTO task FROM phoenix.tasks WHERE id = p_task FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('task %s not found', p_task);
    END IF;
    a := phoenix.agent_active(p_agent);
    IF task.created_by = p_agent OR task.assigned_to = p_agent THEN
        RAISE EXCEPTION USING ERRCODE = 'PBSV0',
            MESSAGE = format('agent %s cannot vote on its own task %s', a.codename, p_task);
    END IF;

    SELECT vote INTO previous FROM phoenix.task_votes WHERE task_id = p_task AND agent_id = p_agent;
    previous := coalesce(previous, 0);
    IF previous = p_vote THEN
        task := phoenix.task_as_seen(task);
        RETURN;  -- nothing changes
    END IF;
    IF p_vote = 0 THEN
        DELETE FROM phoenix.task_votes WHERE task_id = p_task AND agent_id = p_agent;
    ELSE
        INSERT INTO phoenix.task_votes (task_id, agent_id, vote, reason, at)
        VALUES (p_task, p_agent, p_vote, p_reason, v_now)
        ON CONFLICT (task_id, agent_id) DO UPDATE SET vote = excluded.vote, reason = excluded.reason, at = excluded.at;
    END IF;
    du := (p_vote = 1)::integer - (previous = 1)::integer;
    dd := (p_vote = -1)::integer - (previous = -1)::integer;

    UPDATE phoenix.tasks t
       SET upvotes = t.upvotes + du,
           downvotes = t.downvotes + dd,
           hot_score = phoenix.hot_rank(t.upvotes + du - t.downvotes - dd, t.created_at, v_now),
           active_score = phoenix.hot_rank(t.upvotes + du - t.downvotes - dd, t.last_activity_at, v_now),
           controversy = phoenix.controversy_rank(t.upvotes + du, t.downvotes + dd),
           claim_key = CASE WHEN t.status = 'open'
               THEN phoenix.claim_key(t.available_at, t.priority,
                                      phoenix.hot_rank(t.upvotes + du - t.downvotes - dd, t.created_at, v_now), t.deadline)
               ELSE t.claim_key END
     WHERE t.id = p_task
    RETURNING * INTO task;

    INSERT INTO phoenix.outbox (topic, task_id, payload, at)
    VALUES ('task.voted', p_task,
            jsonb_build_object('agent_id', p_agent, 'vote', p_vote, 'previous', previous, 'team', task.team,
                               'upvotes', task.upvotes, 'downvotes', task.downvotes,
                               'score', task.upvotes - task.downvotes, 'hot_score', task.hot_score),
            v_now);

    IF task.created_by IS NOT NULL AND (du > 0 OR dd > 0) THEN
        -- a new upvote or a new downvote, never both (a change of mind is one of them)
        PERFORM phoenix.agent_hormones_add(task.created_by,
                                           phoenix.hormone_response(CASE WHEN du > 0 THEN 'upvoted' ELSE 'downvoted' END));
    END IF;
    task := phoenix.task_as_seen(task);
END;
$$;
