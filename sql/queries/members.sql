-- Members (board/members.py; docs/concepts/review.md#members): people who take part, rows of
-- phoenix.agents with kind 'member' that never claim, and the tasks that wait for them.

-- name: member_add
-- A new member; no row when the codename is taken (by an agent or a member).
INSERT INTO phoenix.agents (codename, team, kind, role, created_at, last_heartbeat, idle_since, hormones_at)
VALUES (%(codename)s::text, %(team)s::text, 'member', 'member', coalesce(%(now)s::timestamptz, now()),
        coalesce(%(now)s::timestamptz, now()), NULL, coalesce(%(now)s::timestamptz, now()))
ON CONFLICT (codename) DO NOTHING
RETURNING *;

-- name: member_restore
-- A removed member takes part again (its trust and history are kept).
UPDATE phoenix.agents SET decommissioned_at = NULL
 WHERE id = %(member)s::uuid AND kind = 'member'
RETURNING *;

-- name: members_waiting
-- Tasks in review that ask for a person and have no member's verdict on this attempt yet, oldest
-- first (tasks_needs_person_idx), with the verdicts so far and who did the work.
SELECT t.id, t.title, t.team, t.category, t.attempt, t.review_quorum AS quorum, t.review_since,
       greatest(extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - t.review_since), 0)::float8 AS waited_seconds,
       (SELECT count(*) FROM phoenix.task_reviews r WHERE r.task_id = t.id AND r.attempt = t.attempt) AS verdicts,
       (SELECT coalesce(sum(r.weight * r.verdict), 0) FROM phoenix.task_reviews r
         WHERE r.task_id = t.id AND r.attempt = t.attempt)::float8 AS consensus,
       e.codename AS executor, s.codename AS submitted_by, t.created_by
  FROM phoenix.tasks t
  LEFT JOIN phoenix.agents e ON e.id = t.assigned_to
  LEFT JOIN phoenix.agents s ON s.id = t.created_by
 WHERE t.status = 'review' AND t.needs_person
   AND (%(team)s::text IS NULL OR t.team = %(team)s::text)
   AND NOT EXISTS (SELECT 1 FROM phoenix.task_reviews r JOIN phoenix.agents m ON m.id = r.agent_id
                    WHERE r.task_id = t.id AND r.attempt = t.attempt AND m.kind = 'member')
 ORDER BY t.review_since, t.id
 LIMIT %(limit)s::integer;
