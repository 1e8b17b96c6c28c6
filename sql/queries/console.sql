-- The operations console's figures (board/console.py; docs/operations/console.md). Each reads an
-- index or the kept counts, so the console costs the same on a board of a million tasks.

-- name: console_depth
-- Tasks per team and status, from the kept counts (phoenix.task_counts plus the deltas the beat has
-- not folded yet, migration 0011): a few rows whatever the board's size.
SELECT team, status::text AS status, sum(tasks)::bigint AS n
  FROM (SELECT team, status, tasks FROM phoenix.task_counts
        UNION ALL
        SELECT team, status, tasks FROM phoenix.task_count_changes) c
 WHERE (%(team)s::text IS NULL OR team = %(team)s::text)
 GROUP BY team, status
HAVING sum(tasks) <> 0
 ORDER BY team, status;

-- name: console_oldest_claimable
-- Per team, the oldest claimable task (open, dependencies done, available now): how long it has
-- been claimable (since its available_at: its submission, its retry's backoff end), and how many
-- are claimable. One probe of tasks_claimable_age_idx per team for the age.
SELECT t.name AS team, o.id AS task_id, o.available_at,
       coalesce(greatest(extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - o.available_at), 0), 0)::float8
           AS seconds
  FROM phoenix.teams t
  LEFT JOIN LATERAL (SELECT k.id, k.available_at FROM phoenix.tasks k
                      WHERE k.team = t.name AND k.status = 'open' AND k.pending_deps = 0
                        AND k.available_at <= coalesce(%(now)s::timestamptz, now())
                      ORDER BY k.available_at, k.id LIMIT 1) o ON true
 WHERE (%(team)s::text IS NULL OR t.name = %(team)s::text)
 ORDER BY t.name;

-- name: console_time_in_status
-- How long tasks stayed in each status they entered between since and now (from task_events: an
-- event that changes the status starts a stay, the task's next such event ends it; a stay still
-- running counts up to now). A stay that began before since is not counted.
WITH entered AS (
    SELECT e.task_id, e.at,
           CASE e.kind
               WHEN 'submitted' THEN 'open'
               WHEN 'claimed' THEN 'claimed'
               WHEN 'started' THEN 'in_progress'
               WHEN 'submitted_for_review' THEN 'review'
               WHEN 'delegated' THEN 'waiting'
               WHEN 'completed' THEN 'complete'
               WHEN 'cancelled' THEN 'cancelled'
               WHEN 'review_expired' THEN 'failed'
               WHEN 'dependency_failed' THEN 'failed'
               ELSE CASE WHEN (e.detail ->> 'final')::boolean THEN 'failed' ELSE 'open' END
           END AS status
      FROM phoenix.task_events e
     WHERE e.at >= %(since)s::timestamptz AND e.at <= coalesce(%(now)s::timestamptz, now())
       AND e.kind IN ('submitted', 'claimed', 'started', 'submitted_for_review', 'delegated', 'completed',
                      'cancelled', 'review_expired', 'dependency_failed', 'failed', 'lease_expired', 'rejected',
                      'released')
       AND (%(team)s::text IS NULL OR EXISTS (SELECT 1 FROM phoenix.tasks t WHERE t.id = e.task_id AND t.team = %(team)s::text))
), stays AS (
    SELECT status, extract(epoch FROM coalesce(lead(at) OVER (PARTITION BY task_id ORDER BY at),
                                               coalesce(%(now)s::timestamptz, now())) - at)::float8 AS seconds,
           lead(at) OVER (PARTITION BY task_id ORDER BY at) IS NULL AS running
      FROM entered
)
SELECT status, count(*) AS stays, count(*) FILTER (WHERE running) AS running,
       avg(seconds)::float8 AS mean_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::float8 AS p50_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds)::float8 AS p95_seconds,
       max(seconds)::float8 AS max_seconds
  FROM stays
 WHERE status NOT IN ('complete', 'failed', 'cancelled')
 GROUP BY status ORDER BY min(CASE status WHEN 'open' THEN 1 WHEN 'claimed' THEN 2 WHEN 'in_progress' THEN 3
                                          WHEN 'review' THEN 4 ELSE 5 END);

-- name: console_failures
-- Failed attempts between since and now grouped by reason (the dead-letter view): how many
-- attempts, how many ended their task for good, how many tasks, which teams and event kinds, the
-- latest, and one task to look at. Reasons are stored whole (up to 1000 characters), so attempts
-- that failed the same way group together.
SELECT coalesce(e.detail ->> 'reason', e.kind) AS reason,
       count(*) AS attempts,
       count(*) FILTER (WHERE (e.detail ->> 'final')::boolean OR e.kind IN ('review_expired', 'dependency_failed'))
           AS final,
       count(DISTINCT e.task_id) AS tasks,
       array_agg(DISTINCT t.team ORDER BY t.team) AS teams,
       array_agg(DISTINCT e.kind ORDER BY e.kind) AS kinds,
       max(e.at) AS last_at,
       (array_agg(e.task_id ORDER BY e.at DESC))[1] AS latest_task
  FROM phoenix.task_events e JOIN phoenix.tasks t ON t.id = e.task_id
 WHERE e.at >= %(since)s::timestamptz AND e.at <= coalesce(%(now)s::timestamptz, now())
   AND e.kind IN ('failed', 'lease_expired', 'rejected', 'released', 'review_expired', 'dependency_failed')
   AND (%(team)s::text IS NULL OR t.team = %(team)s::text)
 GROUP BY 1
 ORDER BY attempts DESC, last_at DESC
 LIMIT %(limit)s::integer;

-- name: console_stalled_reviews
-- Tasks in review past the ReviewStalled threshold (REVIEW_STALLED_SECONDS), oldest first, with
-- their verdicts so far; a task that asks for a person is listed as waiting for people instead.
SELECT t.id, t.title, t.team, t.category, t.attempt, t.review_quorum AS quorum, t.review_since,
       extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - t.review_since)::float8 AS waited_seconds,
       (SELECT count(*) FROM phoenix.task_reviews r WHERE r.task_id = t.id AND r.attempt = t.attempt) AS verdicts
  FROM phoenix.tasks t
 WHERE t.status = 'review' AND NOT t.needs_person
   AND t.review_since <= coalesce(%(now)s::timestamptz, now()) - make_interval(secs => %(stalled)s::float8)
   AND (%(team)s::text IS NULL OR t.team = %(team)s::text)
 ORDER BY t.review_since, t.id
 LIMIT %(limit)s::integer;
