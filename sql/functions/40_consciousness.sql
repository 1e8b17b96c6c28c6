-- Consciousness (docs/concepts/beat.md#consciousness): per team and for the whole federation ('global'),
-- over the active agents (heartbeat within ACTIVE_AGENT_SECONDS):
--   trust       = mean trust_coefficient
--   coherence   = 1 / (1 + mean Euclidean distance of the agents' hormone vectors to their mean):
--                 1 when the agents feel alike, towards 0 as their states scatter
--   success     = mean success_rate (1 while no agent has an outcome yet)
--   consciousness = BASE + SPAN * (W_TRUST * trust + W_COHERENCE * coherence + W_SUCCESS * success)
-- so it lies in [100, 110]; with no active agent it is BASE.
--   entanglement_pairs = partner pairs of active agents with entanglement_strength at least
--                 ENTANGLEMENT_PAIR_MIN; coherence_average = the mean coherence_time of those pairs
CREATE OR REPLACE FUNCTION phoenix.consciousness_value(trust float8, coherence float8, success float8)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT phoenix.k_consciousness_base() + phoenix.k_consciousness_span() * (
               phoenix.k_consciousness_weight_trust() * coalesce(trust, 0)
             + phoenix.k_consciousness_weight_coherence() * coalesce(coherence, 0)
             + phoenix.k_consciousness_weight_success() * coalesce(success, 0))
$$;

-- One snapshot: a row per team and a 'global' row at time p_at. The key (time, team) makes a
-- second beat writing the same tick a no-op. decisions_per_second counts, over the last
-- DECISIONS_WINDOW_SECONDS, the agents' transitions (claim, result, failure, review) and votes,
-- by the team of the agent that made them; tasks_per_hour counts completions in the last hour.
CREATE OR REPLACE FUNCTION phoenix.consciousness_snapshot(p_at timestamptz, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_window interval := make_interval(secs => phoenix.k_decisions_window_seconds());
    n integer;
BEGIN
    WITH active AS (
        SELECT team, trust_coefficient AS trust, success_rate,
               (hormone_levels ->> 'dopamine')::float8 AS d, (hormone_levels ->> 'oxytocin')::float8 AS o,
               (hormone_levels ->> 'adrenaline')::float8 AS a, (hormone_levels ->> 'cortisol')::float8 AS c
          FROM phoenix.agents
         WHERE decommissioned_at IS NULL AND kind = 'agent'  -- members are people, not the federation's agents
           AND last_heartbeat > v_now - make_interval(secs => phoenix.k_active_agent_seconds())
    ), groups AS (
        SELECT coalesce(team, 'global') AS team, count(*) AS agents, avg(trust) AS trust,
               coalesce(avg(success_rate), 1) AS success, avg(d) AS d, avg(o) AS o, avg(a) AS a, avg(c) AS c
          FROM active GROUP BY ROLLUP (team)
    ), coherence AS (
        SELECT g.team, 1 / (1 + avg(sqrt((x.d - g.d) ^ 2 + (x.o - g.o) ^ 2 + (x.a - g.a) ^ 2 + (x.c - g.c) ^ 2))) AS value
          FROM groups g JOIN active x ON g.team = 'global' OR x.team = g.team
         GROUP BY g.team
    ), decisions AS (
        SELECT coalesce(team, 'global') AS team, count(*) AS n
          FROM (SELECT a.team FROM phoenix.task_events e JOIN phoenix.agents a ON a.id = e.agent_id
                 WHERE e.at > v_now - v_window AND e.at <= v_now
                   AND e.kind IN ('claimed', 'completed', 'submitted_for_review', 'failed', 'reviewed')
                UNION ALL
                SELECT a.team FROM phoenix.task_votes v JOIN phoenix.agents a ON a.id = v.agent_id
                 WHERE v.at > v_now - v_window AND v.at <= v_now) AS made
         GROUP BY ROLLUP (team)
    ), done AS (
        SELECT coalesce(team, 'global') AS team, count(*) AS n
          FROM phoenix.tasks
         WHERE completed_at > v_now - INTERVAL '1 hour' AND completed_at <= v_now AND status = 'complete'
         GROUP BY ROLLUP (team)
    ), pairs AS (
        -- partner pairs of active agents whose shared record makes them entangled
        -- (docs/concepts/partners.md); a pair across two teams counts for the federation only
        SELECT CASE WHEN grouping(p.team) = 1 THEN 'global' ELSE p.team END AS team,
               count(*) AS n, avg(p.coherence_time) AS coherence
          FROM phoenix.pairs_entanglement(v_now) AS p
         WHERE p.active AND p.entanglement_strength >= phoenix.k_entanglement_pair_min()
         GROUP BY ROLLUP (p.team)
        HAVING grouping(p.team) = 1 OR p.team IS NOT NULL
    ), rows AS (
        SELECT t.team, g.agents, g.trust, g.d, g.o, g.a, g.c,
               coalesce(pr.n, 0) AS entanglement_pairs, pr.coherence AS coherence_average,
               h.value AS coherence,
               CASE WHEN coalesce(g.agents, 0) = 0 THEN phoenix.k_consciousness_base()
                    ELSE phoenix.consciousness_value(g.trust, h.value, g.success) END AS consciousness,
               coalesce(dn.n, 0) AS tasks_per_hour,
               coalesce(dc.n, 0) / phoenix.k_decisions_window_seconds() AS decisions_per_second
          FROM (SELECT name AS team FROM phoenix.teams UNION ALL SELECT 'global') AS t
          LEFT JOIN groups g USING (team)
          LEFT JOIN coherence h USING (team)
          LEFT JOIN decisions dc USING (team)
          LEFT JOIN done dn USING (team)
          LEFT JOIN pairs pr USING (team)
    )
    INSERT INTO phoenix.consciousness_timeline
        (time, team, global_consciousness, global_trust, team_consciousness, team_coherence,
         avg_dopamine, avg_oxytocin, avg_adrenaline, avg_cortisol, active_agents, tasks_per_hour,
         decisions_per_second, entanglement_pairs, coherence_average)
    SELECT p_at, r.team, glob.consciousness, coalesce(glob.trust, 0.5),
           CASE WHEN r.team = 'global' THEN NULL ELSE r.consciousness END, r.coherence,
           r.d, r.o, r.a, r.c, coalesce(r.agents, 0), r.tasks_per_hour, r.decisions_per_second,
           r.entanglement_pairs, r.coherence_average
      FROM rows r CROSS JOIN (SELECT consciousness, trust FROM rows WHERE team = 'global') AS glob
    ON CONFLICT (time, team) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;
