-- Ranking (docs/concepts/ranking.md): votes on tasks, which move their ranks, and the beat's
-- refresh of hot ranks. The formula is sql/functions/10_hot_rank.sql.

-- name: task_vote
-- Cast, change or retract (0) a vote; returns the task's new counts and the previous vote.
SELECT (r.task).id, (r.task).upvotes, (r.task).downvotes, (r.task).score, (r.task).hot_score, r.previous
  FROM phoenix.task_vote(%(task)s::uuid, %(agent)s::uuid, %(vote)s::integer, %(reason)s::text, %(now)s::timestamptz) AS r;

-- name: task_votes_for
-- The votes on one task, newest first, with the voters' codenames.
SELECT v.agent_id, a.codename, v.vote, v.reason, v.at
  FROM phoenix.task_votes v JOIN phoenix.agents a ON a.id = v.agent_id
 WHERE v.task_id = %(task)s::uuid ORDER BY v.at DESC, v.agent_id;

-- name: tasks_refresh_ranks
-- One batch of the hot/active rank refresh after a created_at.
SELECT * FROM phoenix.tasks_refresh_ranks(%(after)s::timestamptz, %(batch)s::integer, %(now)s::timestamptz);

-- name: tasks_refresh_ranks_outside
-- Re-rank the tasks older than the window that are still ranked.
SELECT phoenix.tasks_refresh_ranks_outside(%(now)s::timestamptz) AS updated;
