-- The agents' history for charts (board/history.py): the beat's samples of hormones and trust, the
-- interactions that moved an agent's trust, the hormone cascades it took part in.

-- name: agent_history_sample
-- One row per agent in service that is live (a heartbeat within ACTIVE_AGENT_SECONDS) or a member,
-- at the tick (now binned to the period): a second beat in the same tick writes nothing.
INSERT INTO phoenix.agent_history (agent_id, at, dopamine, oxytocin, adrenaline, cortisol, trust)
SELECT a.id, date_bin(make_interval(secs => %(period)s::float8), coalesce(%(now)s::timestamptz, now()),
                      'epoch'::timestamptz),
       (a.hormone_levels ->> 'dopamine')::real, (a.hormone_levels ->> 'oxytocin')::real,
       (a.hormone_levels ->> 'adrenaline')::real, (a.hormone_levels ->> 'cortisol')::real, a.trust_coefficient::real
  FROM phoenix.agents a
 WHERE a.decommissioned_at IS NULL
   AND (a.kind = 'member'
        OR a.last_heartbeat > coalesce(%(now)s::timestamptz, now()) - make_interval(secs => phoenix.k_active_agent_seconds()))
ON CONFLICT (agent_id, at) DO NOTHING;

-- name: agent_history_prune
-- Deletes samples older than the cut-off, a batch at a time (the beat runs it until none is left).
DELETE FROM phoenix.agent_history
 WHERE ctid = ANY (ARRAY(SELECT ctid FROM phoenix.agent_history WHERE at < %(before)s::timestamptz
                          LIMIT %(batch)s::integer));

-- name: agent_history_series
-- An agent's samples between since and until, averaged into buckets of `bucket` seconds (the
-- sampling period for short ranges, wider for long ones, so a chart gets a bounded number of points).
SELECT date_bin(make_interval(secs => %(bucket)s::float8), at, 'epoch'::timestamptz) AS at,
       avg(dopamine)::float8 AS dopamine, avg(oxytocin)::float8 AS oxytocin, avg(adrenaline)::float8 AS adrenaline,
       avg(cortisol)::float8 AS cortisol, avg(trust)::float8 AS trust
  FROM phoenix.agent_history
 WHERE agent_id = %(agent)s::uuid AND at >= %(since)s::timestamptz AND at <= %(until)s::timestamptz
 GROUP BY 1 ORDER BY 1;

-- name: agent_history_now
-- An agent's values now: the series' last point when it runs to the present.
SELECT coalesce(%(now)s::timestamptz, now()) AS at,
       (hormone_levels ->> 'dopamine')::float8 AS dopamine, (hormone_levels ->> 'oxytocin')::float8 AS oxytocin,
       (hormone_levels ->> 'adrenaline')::float8 AS adrenaline, (hormone_levels ->> 'cortisol')::float8 AS cortisol,
       trust_coefficient::float8 AS trust
  FROM phoenix.agents WHERE id = %(agent)s::uuid;

-- name: agent_history_interactions
-- What moved an agent's trust (or its hormones, in a cascade's sync) between since and until,
-- newest first: who, why (the interaction's type and metadata), on which task, by how much.
SELECT i.id, i.at, i.interaction_type AS kind, i.agent_from, f.codename AS from_codename, i.task_id,
       t.title AS task_title, i.trust_delta, i.success, i.hormone_exchange, i.metadata
  FROM phoenix.agent_interactions i
  LEFT JOIN phoenix.agents f ON f.id = i.agent_from
  LEFT JOIN phoenix.tasks t ON t.id = i.task_id
 WHERE i.agent_to = %(agent)s::uuid AND i.at >= %(since)s::timestamptz AND i.at <= %(until)s::timestamptz
 ORDER BY i.at DESC, i.id DESC
 LIMIT %(limit)s::integer;

-- name: agent_history_cascades
-- The hormone cascades an agent took part in between since and until, newest first: as a source
-- (it started or was named by one), or as a receiver (a sync interaction records what reached it).
SELECT c.id, c.kind, c.hormone, c.intensity, c.team, c.task_id, c.created_at, c.applied_at, c.reached,
       CASE WHEN %(agent)s::uuid = ANY (c.sources) THEN 'source' ELSE 'receiver' END AS role,
       (s.hormone_exchange ->> 'delta')::float8 AS delta, (s.hormone_exchange ->> 'hop')::integer AS hop
  FROM phoenix.hormone_cascades c
  LEFT JOIN LATERAL (SELECT i.hormone_exchange FROM phoenix.agent_interactions i
                      WHERE i.agent_to = %(agent)s::uuid AND i.interaction_type = 'sync'
                        AND i.metadata ->> 'cascade_id' = c.id::text
                        AND i.at >= %(since)s::timestamptz
                      LIMIT 1) s ON true
 WHERE c.created_at >= %(since)s::timestamptz AND c.created_at <= %(until)s::timestamptz
   AND (%(agent)s::uuid = ANY (c.sources) OR s.hormone_exchange IS NOT NULL)
 ORDER BY c.created_at DESC
 LIMIT %(limit)s::integer;
