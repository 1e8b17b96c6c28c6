-- Threaded comments on a task and votes on comments (docs/guide.md).

-- A comment, or a reply to a comment of the same task. With an idempotency key (the author's own:
-- keys are scoped to the commenting agent), a key already used returns that comment unchanged when
-- the task, parent and content are the same, and is refused in one line otherwise: a client that
-- retries after a lost reply posts once, and new content never hides behind an old key.
CREATE OR REPLACE FUNCTION phoenix.comment_add(
    p_task uuid, p_agent uuid, p_parent uuid, p_content text, p_now timestamptz DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL)
RETURNS phoenix.task_comments
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_depth integer := 0;
    v_team text;
    v_count integer;
    parent phoenix.task_comments;
    c phoenix.task_comments;
BEGIN
    -- the task row first: it carries the comment count
    PERFORM 1 FROM phoenix.tasks WHERE id = p_task FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('task %s not found', p_task);
    END IF;
    PERFORM phoenix.agent_active(p_agent);
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO c FROM phoenix.task_comments WHERE agent_id = p_agent AND idempotency_key = p_idempotency_key;
        IF FOUND THEN
            RETURN phoenix.comment_repeated(c, p_task, p_parent, p_content);
        END IF;
    END IF;
    IF p_parent IS NOT NULL THEN
        SELECT * INTO parent FROM phoenix.task_comments WHERE id = p_parent;
        IF NOT FOUND OR parent.task_id <> p_task THEN
            RAISE EXCEPTION USING ERRCODE = 'PBNF0',
                MESSAGE = format('comment %s not found on task %s; reply to a comment of the same task', p_parent, p_task);
        END IF;
        v_depth := parent.depth + 1;
        IF v_depth > phoenix.k_comment_depth_max() THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0',
                MESSAGE = format('reply too deep: threads nest at most %s levels; reply higher up', phoenix.k_comment_depth_max()::integer);
        END IF;
    END IF;
    INSERT INTO phoenix.task_comments (task_id, agent_id, parent_comment_id, depth, content, created_at, idempotency_key)
    VALUES (p_task, p_agent, p_parent, v_depth, p_content, v_now, p_idempotency_key)
    ON CONFLICT (agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING * INTO c;
    IF NOT FOUND THEN
        -- the same author's comment with this key, on another task, won the race
        SELECT * INTO c FROM phoenix.task_comments WHERE agent_id = p_agent AND idempotency_key = p_idempotency_key;
        RETURN phoenix.comment_repeated(c, p_task, p_parent, p_content);
    END IF;
    UPDATE phoenix.tasks
       SET comment_count = comment_count + 1,
           last_activity_at = greatest(last_activity_at, v_now),
           active_score = phoenix.hot_rank(score, greatest(last_activity_at, v_now), v_now)
     WHERE id = p_task
    RETURNING team, comment_count INTO v_team, v_count;
    -- one task.commented row for open pages (docs/concepts/event-stream.md): ids and the count,
    -- never the text, which a page reads through its own access rules
    INSERT INTO phoenix.outbox (topic, task_id, payload, at)
    VALUES ('task.commented', p_task,
            jsonb_build_object('comment_id', c.id, 'parent_id', c.parent_comment_id, 'depth', c.depth,
                               'agent_id', p_agent, 'team', v_team, 'comment_count', v_count),
            v_now);
    RETURN c;
END;
$$;

-- A comment whose key its author already used: the first comment when it says the same thing in
-- the same place, else a conflict naming the key.
CREATE OR REPLACE FUNCTION phoenix.comment_repeated(
    c phoenix.task_comments, p_task uuid, p_parent uuid, p_content text)
RETURNS phoenix.task_comments
LANGUAGE plpgsql
AS $$
BEGIN
    IF (c.task_id, c.parent_comment_id, c.content) IS DISTINCT FROM (p_task, p_parent, p_content) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('idempotency key %s was already used for a different comment; use a new key for new content',
                             left(c.idempotency_key, 60));
    END IF;
    RETURN c;
END;
$$;

CREATE OR REPLACE FUNCTION phoenix.comment_vote(
    p_comment uuid, p_agent uuid, p_vote integer, p_now timestamptz DEFAULT NULL,
    OUT comment phoenix.task_comments, OUT previous integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    a phoenix.agents;
BEGIN
    IF p_vote IS NULL OR p_vote NOT IN (-1, 0, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('vote must be +1, -1 or 0 (retract), not %s', p_vote);
    END IF;
    SELECT * INTO comment FROM phoenix.task_comments WHERE id = p_comment FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('comment %s not found', p_comment);
    END IF;
    a := phoenix.agent_active(p_agent);
    IF comment.agent_id = p_agent THEN
        RAISE EXCEPTION USING ERRCODE = 'PBSV0', MESSAGE = format('agent %s cannot vote on its own comment', a.codename);
    END IF;
    SELECT vote INTO previous FROM phoenix.comment_votes WHERE comment_id = p_comment AND agent_id = p_agent;
    previous := coalesce(previous, 0);
    IF previous = p_vote THEN
        RETURN;
    END IF;
    IF p_vote = 0 THEN
        DELETE FROM phoenix.comment_votes WHERE comment_id = p_comment AND agent_id = p_agent;
    ELSE
        INSERT INTO phoenix.comment_votes (comment_id, agent_id, vote, at) VALUES (p_comment, p_agent, p_vote, v_now)
        ON CONFLICT (comment_id, agent_id) DO UPDATE SET vote = excluded.vote, at = excluded.at;
    END IF;
    UPDATE phoenix.task_comments
       SET upvotes = upvotes + (p_vote = 1)::integer - (previous = 1)::integer,
           downvotes = downvotes + (p_vote = -1)::integer - (previous = -1)::integer
     WHERE id = p_comment
    RETURNING * INTO comment;
    -- a comment's vote is news of its task (task.voted with the comment's id and counts)
    INSERT INTO phoenix.outbox (topic, task_id, payload, at)
    SELECT 'task.voted', comment.task_id,
           jsonb_build_object('comment_id', comment.id, 'agent_id', p_agent, 'vote', p_vote, 'previous', previous,
                              'team', t.team, 'upvotes', comment.upvotes, 'downvotes', comment.downvotes,
                              'score', comment.upvotes - comment.downvotes),
           v_now
      FROM phoenix.tasks t WHERE t.id = comment.task_id;
END;
$$;
