-- Statements on phoenix.task_votes, phoenix.task_reviews and phoenix.comment_votes.

-- name: task_vote
-- Cast, change or retract (0) a vote; returns the task's new counts and the previous vote.
SELECT (r.task).id, (r.task).upvotes, (r.task).downvotes, (r.task).score, (r.task).hot_score, r.previous
  FROM phoenix.task_vote(%(task)s::uuid, %(agent)s::uuid, %(vote)s::integer, %(reason)s::text, %(now)s::timestamptz) AS r;

-- name: task_votes_for
-- The votes on one task, newest first, with the voters' codenames.
SELECT v.agent_id, a.codename, v.vote, v.reason, v.at
  FROM phoenix.task_votes v JOIN phoenix.agents a ON a.id = v.agent_id
 WHERE v.task_id = %(task)s::uuid ORDER BY v.at DESC, v.agent_id;

-- name: task_reviews_for
-- The review verdicts on one task, by attempt.
SELECT r.attempt, r.agent_id, a.codename, r.verdict, r.weight, r.reason, r.at
  FROM phoenix.task_reviews r JOIN phoenix.agents a ON a.id = r.agent_id
 WHERE r.task_id = %(task)s::uuid ORDER BY r.attempt, r.at, r.agent_id;

-- name: comment_vote
-- Cast, change or retract (0) a vote on a comment.
SELECT (r.comment).id, (r.comment).upvotes, (r.comment).downvotes, r.previous
  FROM phoenix.comment_vote(%(comment)s::uuid, %(agent)s::uuid, %(vote)s::integer, %(now)s::timestamptz) AS r;
