-- Threaded comments on a task and votes on comments.

-- name: comment_add
-- A comment on a task, or a reply to one of its comments; with a key, posted once per author and key.
SELECT * FROM phoenix.comment_add(%(task)s::uuid, %(agent)s::uuid, %(parent)s::uuid, %(content)s::text, %(now)s::timestamptz,
                                  %(idempotency_key)s::text);

-- name: comments_for
-- One task's thread in reading order (parents before replies, oldest first within a level).
WITH RECURSIVE thread AS (
    SELECT c.*, ARRAY[c.created_at::text || c.id::text] AS path
      FROM phoenix.task_comments c WHERE c.task_id = %(task)s::uuid AND c.parent_comment_id IS NULL
    UNION ALL
    SELECT c.*, thread.path || (c.created_at::text || c.id::text)
      FROM phoenix.task_comments c JOIN thread ON c.parent_comment_id = thread.id
)
SELECT t.id, t.parent_comment_id, t.depth, t.agent_id, a.codename, t.content, t.upvotes, t.downvotes, t.created_at
  FROM thread t JOIN phoenix.agents a ON a.id = t.agent_id
 ORDER BY t.path;

-- name: comment_vote
-- Cast, change or retract (0) a vote on a comment.
SELECT (r.comment).id, (r.comment).upvotes, (r.comment).downvotes, r.previous
  FROM phoenix.comment_vote(%(comment)s::uuid, %(agent)s::uuid, %(vote)s::integer, %(now)s::timestamptz) AS r;
