-- 1. Votes and comments on the event stream (docs/concepts/event-stream.md): task.voted (a vote on a
-- task or on one of its comments) and task.commented (a comment or reply), one outbox row each,
-- written by phoenix.task_vote, phoenix.comment_vote and phoenix.comment_add in the transaction
-- of the vote or comment, so an open page follows them without re-reading (web/static/web.js).
ALTER TABLE phoenix.outbox DROP CONSTRAINT outbox_topic;
ALTER TABLE phoenix.outbox ADD CONSTRAINT outbox_topic CHECK (
    topic IN ('task.created', 'task.completed', 'task.updated', 'task.voted', 'task.commented',
              'consciousness.update', 'hormone.cascade'));

-- 2. The federation dashboard counted members (people, kind = 'member') among each team's agents
-- and the global total; every other count of agents leaves them out (board/members.py). The view
-- is made again with the same columns, empty until the beat's next refresh (or the first read,
-- which populates it: board/consciousness.py).
DROP MATERIALIZED VIEW phoenix.federation_dashboard;
CREATE MATERIALIZED VIEW phoenix.federation_dashboard AS
WITH teams AS (
    SELECT name AS team FROM phoenix.teams
    UNION ALL SELECT 'global'
), agent_figures AS (
    SELECT coalesce(team, 'global') AS team,
           count(*) AS total_agents,
           count(*) FILTER (WHERE last_heartbeat > now() - INTERVAL '30 seconds') AS active_agents,
           avg(trust_coefficient) AS avg_trust
      FROM phoenix.agents WHERE decommissioned_at IS NULL AND kind = 'agent'  -- members are people
     GROUP BY ROLLUP (team)
), done_24h AS (
    SELECT coalesce(team, 'global') AS team, count(*) AS tasks_24h
      FROM phoenix.tasks WHERE completed_at > now() - INTERVAL '24 hours' AND status = 'complete'
     GROUP BY ROLLUP (team)
), waiting AS (
    SELECT coalesce(team, 'global') AS team, count(*) AS open_tasks
      FROM phoenix.tasks WHERE status = 'open'
     GROUP BY ROLLUP (team)
), latest AS (
    SELECT DISTINCT ON (team) team, coalesce(team_consciousness, global_consciousness) AS consciousness, time
      FROM phoenix.consciousness_timeline
     WHERE time > now() - INTERVAL '1 hour'
     ORDER BY team, time DESC
)
SELECT teams.team,
       coalesce(a.total_agents, 0) AS total_agents,
       coalesce(a.active_agents, 0) AS active_agents,
       a.avg_trust,
       coalesce(d.tasks_24h, 0) AS tasks_24h,
       coalesce(w.open_tasks, 0) AS open_tasks,
       l.consciousness AS current_consciousness,
       l.time AS consciousness_at,
       now() AS refreshed_at
  FROM teams
  LEFT JOIN agent_figures a USING (team)
  LEFT JOIN done_24h d USING (team)
  LEFT JOIN waiting w USING (team)
  LEFT JOIN latest l USING (team)
WITH NO DATA;

CREATE UNIQUE INDEX federation_dashboard_team ON phoenix.federation_dashboard (team);
