-- Teams: creating and listing them.

-- name: team_create
-- A new team (no row when it exists already).
INSERT INTO phoenix.teams (name, description) VALUES (%(team)s::text, %(description)s::text)
ON CONFLICT (name) DO NOTHING
RETURNING name, description, created_at;

-- name: team_exists
-- Whether a team exists.
SELECT EXISTS (SELECT 1 FROM phoenix.teams WHERE name = %(team)s::text) AS found;

-- name: teams_list
-- All teams.
SELECT name, description, created_at FROM phoenix.teams ORDER BY name;

-- name: teams_overview
-- Every team with its agents in service and its tasks not yet ended. The live tasks come from the
-- kept counts (task_counts plus the deltas not yet folded, migrations 0011 and 0025), as the exporter reads
-- them: a few rows per team, where counting tasks needed an index every transition wrote (0023).
SELECT t.name, t.description, t.created_at,
       (SELECT count(*) FROM phoenix.agents a WHERE a.team = t.name AND a.decommissioned_at IS NULL
           AND a.kind = 'agent') AS agents,
       (SELECT coalesce(sum(c.tasks), 0)::bigint
          FROM (SELECT team, status, tasks FROM phoenix.task_counts
                UNION ALL
                SELECT team, status, tasks FROM phoenix.task_count_changes) AS c
         WHERE c.team = t.name AND c.status NOT IN ('complete', 'failed', 'cancelled')) AS live_tasks
  FROM phoenix.teams t
 ORDER BY t.name;
