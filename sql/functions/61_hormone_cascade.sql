-- Hormone cascades (docs/concepts/cascades.md): spreading activation with decay over the
-- federation's graph, with the contagion channel strength of emotion-contagion models as the
-- edge weight. A cascade has sources, one hormone and an intensity (the change at the sources):
--   receiver r reached from node p over an edge of weight w gets  delta_r = delta_p * ATTENUATION * w
--   breadth-first, at most DEPTH_MAX hops, at most FANOUT_MAX receivers per node (strongest edges,
--   then id), each agent at most once, nothing below MIN_DELTA applied or spread, no receiver
--   that had a sync of this hormone within REFRACTORY_SECONDS, levels clamped to the bounds.
-- Edges: partners (CASCADE_WEIGHT_PARTNER), supervisor and subordinates (CASCADE_WEIGHT_HIERARCHY),
-- agents with an interaction either way within CASCADE_COLLABORATOR_WINDOW_SECONDS
-- (CASCADE_WEIGHT_COLLABORATOR); the strongest relation counts. Syncs are no interaction here and
-- a sync never starts a cascade, so cascades cannot feed themselves (the "spirals" of contagion
-- models).

-- The edges out of one agent, with their weight.
CREATE OR REPLACE FUNCTION phoenix.hormone_cascade_neighbors(p_agent uuid, p_at timestamptz)
RETURNS TABLE (agent uuid, weight float8)
LANGUAGE sql STABLE
AS $$
    SELECT n.agent, max(n.weight)
      FROM (SELECT unnest(a.paired_agents) AS agent, phoenix.k_cascade_weight_partner() AS weight
              FROM phoenix.agents a WHERE a.id = p_agent
            UNION ALL
            SELECT a.supervisor_agent, phoenix.k_cascade_weight_hierarchy()
              FROM phoenix.agents a WHERE a.id = p_agent AND a.supervisor_agent IS NOT NULL
            UNION ALL
            SELECT unnest(a.subordinate_agents), phoenix.k_cascade_weight_hierarchy()
              FROM phoenix.agents a WHERE a.id = p_agent
            UNION ALL
            SELECT i.agent_to, phoenix.k_cascade_weight_collaborator()
              FROM phoenix.agent_interactions i
             WHERE i.agent_from = p_agent AND i.interaction_type <> 'sync'
               AND i.at > p_at - make_interval(secs => phoenix.k_cascade_collaborator_window_seconds()) AND i.at <= p_at
            UNION ALL
            SELECT i.agent_from, phoenix.k_cascade_weight_collaborator()
              FROM phoenix.agent_interactions i
             WHERE i.agent_to = p_agent AND i.agent_from IS NOT NULL AND i.interaction_type <> 'sync'
               AND i.at > p_at - make_interval(secs => phoenix.k_cascade_collaborator_window_seconds()) AND i.at <= p_at
           ) AS n
     WHERE n.agent <> p_agent
     GROUP BY n.agent
$$;

-- Whether an agent had a sync of this hormone within the refractory window before p_at.
CREATE OR REPLACE FUNCTION phoenix.hormone_refractory(p_agent uuid, p_hormone text, p_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM phoenix.agent_interactions i
                    WHERE i.agent_to = p_agent AND i.interaction_type = 'sync'
                      AND i.at > p_at - make_interval(secs => phoenix.k_cascade_refractory_seconds()) AND i.at <= p_at
                      AND i.hormone_exchange ->> 'hormone' = p_hormone)
$$;

-- Called by the event functions with an agent's levels before and after an event: each hormone
-- the event moved by CASCADE_TRIGGER_DELTA or more starts a cascade from that agent. Only the row
-- is written here: spreading locks other agents, and the event's transaction already holds task
-- and agent rows in its own order, so the beat spreads it in a transaction of its own
-- (phoenix.hormone_cascade_run), where agents are the only rows locked.
CREATE OR REPLACE FUNCTION phoenix.hormone_cascade_note(
    p_agent uuid, p_before jsonb, p_after jsonb, p_task uuid, p_at timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO phoenix.hormone_cascades (id, kind, hormone, intensity, sources, task_id, created_at)
    SELECT gen_random_uuid(), 'event', h.name, h.moved, ARRAY[p_agent], p_task, p_at
      FROM (SELECT name, round(((p_after ->> name)::float8 - (p_before ->> name)::float8)::numeric, 6)::float8 AS moved
              FROM unnest(ARRAY['dopamine', 'oxytocin', 'adrenaline', 'cortisol']) AS name) AS h
     WHERE abs(h.moved) >= phoenix.k_cascade_trigger_delta();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

-- Spreads one cascade, once: a cascade already applied is returned unchanged.
-- Locks: the cascade's row, then every agent it changes, in id order and all before the first
-- change. Every cascade takes agents in that one order, so cascades never deadlock one another;
-- and it first tries NOWAIT (giving back whatever it got and trying again), so while a
-- transaction that takes agents in another order holds one of them, a cascade waits holding no
-- agent and cannot close a cycle with it. After CASCADE_LOCK_TRIES it waits in id order.
CREATE OR REPLACE FUNCTION phoenix.hormone_cascade_run(p_id uuid, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.hormone_cascades
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    c phoenix.hormone_cascades;
    r_ids uuid[] := '{}';
    r_from uuid[] := '{}';
    r_hop integer[] := '{}';
    r_delta float8[] := '{}';
    r_weight float8[] := '{}';
    v_visited uuid[];
    v_dropped uuid[] := '{}';
    v_agent uuid;
    v_locked boolean := false;
    v_hop integer;
    v_parent integer;
    v_delta float8;
    v_before jsonb;
    v_after jsonb;
    v_reached integer := 0;
    i integer;
    nb record;
BEGIN
    SELECT * INTO c FROM phoenix.hormone_cascades WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('hormone cascade %s not found', p_id);
    END IF;
    IF c.applied_at IS NOT NULL THEN
        RETURN c;
    END IF;

    -- hop 0: the sources (an event's source already has its change; the operator's get it here)
    SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}') INTO v_visited
      FROM phoenix.agents a WHERE a.id = ANY (c.sources) AND a.decommissioned_at IS NULL;
    FOREACH v_agent IN ARRAY v_visited LOOP
        r_ids := r_ids || v_agent; r_from := r_from || NULL::uuid; r_hop := r_hop || 0;
        r_delta := r_delta || c.intensity; r_weight := r_weight || 1.0::float8;
    END LOOP;

    FOR v_hop IN 1 .. phoenix.k_cascade_depth_max()::integer LOOP
        FOR v_parent IN SELECT s FROM generate_subscripts(r_ids, 1) AS s WHERE r_hop[s] = v_hop - 1 ORDER BY r_ids[s] LOOP
            FOR nb IN
                SELECT n.agent, n.weight
                  FROM phoenix.hormone_cascade_neighbors(r_ids[v_parent], v_now) AS n
                  JOIN phoenix.agents a ON a.id = n.agent AND a.decommissioned_at IS NULL
                 WHERE NOT (n.agent = ANY (v_visited))
                   AND NOT phoenix.hormone_refractory(n.agent, c.hormone, v_now)
                 ORDER BY n.weight DESC, n.agent
                 LIMIT phoenix.k_cascade_fanout_max()::integer
            LOOP
                v_delta := r_delta[v_parent] * phoenix.k_cascade_attenuation() * nb.weight;
                IF abs(v_delta) < phoenix.k_cascade_min_delta() THEN
                    EXIT;  -- weights come strongest first: the rest are smaller still
                END IF;
                r_ids := r_ids || nb.agent; r_from := r_from || r_ids[v_parent]; r_hop := r_hop || v_hop;
                r_delta := r_delta || v_delta; r_weight := r_weight || nb.weight;
                v_visited := v_visited || nb.agent;
            END LOOP;
        END LOOP;
    END LOOP;

    FOR i IN 1 .. phoenix.k_cascade_lock_tries()::integer LOOP
        BEGIN
            PERFORM count(*) FROM (SELECT a.id FROM phoenix.agents a WHERE a.id = ANY (r_ids)
                                    ORDER BY a.id FOR NO KEY UPDATE NOWAIT) AS l;
            v_locked := true;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            -- the failed block's row locks are released with it
            PERFORM pg_sleep(least(0.05, 0.002 * i) * (0.5 + random()));
        END;
    END LOOP;
    IF NOT v_locked THEN
        PERFORM phoenix.agents_lock(r_ids);
    END IF;

    -- Under the locks, a receiver that another cascade synced meanwhile is refractory now: it and
    -- what was reached through it are left out.
    FOR i IN SELECT s FROM generate_subscripts(r_ids, 1) AS s ORDER BY r_hop[s], r_ids[s] LOOP
        IF r_hop[i] > 0 AND (r_from[i] = ANY (v_dropped) OR phoenix.hormone_refractory(r_ids[i], c.hormone, v_now)) THEN
            v_dropped := v_dropped || r_ids[i];
        END IF;
    END LOOP;

    FOR i IN SELECT s FROM generate_subscripts(r_ids, 1) AS s ORDER BY r_ids[s] LOOP
        CONTINUE WHEN r_ids[i] = ANY (v_dropped) OR (r_hop[i] = 0 AND c.kind = 'event');
        SELECT hormone_levels INTO v_before FROM phoenix.agents WHERE id = r_ids[i];
        UPDATE phoenix.agents
           SET hormone_levels = phoenix.hormones_add(hormone_levels, jsonb_build_object(c.hormone, r_delta[i]))
         WHERE id = r_ids[i]
        RETURNING hormone_levels INTO v_after;
        INSERT INTO phoenix.agent_interactions
            (agent_from, agent_to, interaction_type, task_id, trust_delta, hormone_exchange, metadata, at)
        VALUES (r_from[i], r_ids[i], 'sync', c.task_id, 0,
                jsonb_build_object('cascade_id', c.id, 'hormone', c.hormone, 'hop', r_hop[i],
                                   'weight', round(r_weight[i]::numeric, 6), 'delta', round(r_delta[i]::numeric, 6),
                                   'before', v_before -> c.hormone, 'after', v_after -> c.hormone),
                jsonb_build_object('cascade_id', c.id, 'kind', c.kind), v_now);
        v_reached := v_reached + 1;
    END LOOP;

    UPDATE phoenix.hormone_cascades SET applied_at = v_now, reached = v_reached WHERE id = p_id RETURNING * INTO c;
    RETURN c;
END;
$$;

-- The operator's cascade (the seed's cascadeHormone): from one agent or from every agent in
-- service of a team, spread at once. The id makes it idempotent: a cascade id seen before returns
-- that cascade and changes nothing.
CREATE OR REPLACE FUNCTION phoenix.hormone_cascade(
    p_id uuid, p_hormone text, p_intensity float8, p_team text, p_agent uuid, p_now timestamptz DEFAULT NULL)
RETURNS phoenix.hormone_cascades
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_sources uuid[];
    c phoenix.hormone_cascades;
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'a cascade id is required';
    END IF;
    IF p_hormone IS NULL OR p_hormone NOT IN ('dopamine', 'oxytocin', 'adrenaline', 'cortisol') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('hormone must be dopamine, oxytocin, adrenaline or cortisol, not %s', coalesce(p_hormone, 'nothing'));
    END IF;
    IF p_intensity IS NULL OR p_intensity = 0 OR p_intensity = 'NaN'::float8
       OR abs(p_intensity) > phoenix.k_cascade_intensity_max() THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('intensity must be a non-zero number from -%s to %s, not %s',
                             phoenix.k_cascade_intensity_max(), phoenix.k_cascade_intensity_max(), p_intensity);
    END IF;
    IF (p_team IS NULL) = (p_agent IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'give either a team or an agent to start the cascade from';
    END IF;
    SELECT * INTO c FROM phoenix.hormone_cascades WHERE id = p_id;
    IF FOUND THEN
        RETURN c;
    END IF;
    IF p_agent IS NOT NULL THEN
        v_sources := ARRAY[(phoenix.agent_in_service(p_agent)).id];
        IF (SELECT kind FROM phoenix.agents WHERE id = p_agent) = 'member' THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'a member (a person) has no hormones to cascade; name an agent';
        END IF;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM phoenix.teams WHERE name = p_team) THEN
            RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('team %s not found', p_team);
        END IF;
        SELECT array_agg(id ORDER BY id) INTO v_sources FROM phoenix.agents
         WHERE team = p_team AND decommissioned_at IS NULL AND kind = 'agent';
        IF v_sources IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('team %s has no agent in service', p_team);
        END IF;
    END IF;
    INSERT INTO phoenix.hormone_cascades (id, kind, hormone, intensity, sources, team, created_at)
    VALUES (p_id, 'operator', p_hormone, p_intensity, v_sources, p_team, v_now)
    ON CONFLICT (id) DO NOTHING;
    -- a replay racing this call inserted first: its cascade stands
    RETURN phoenix.hormone_cascade_run(p_id, v_now);
END;
$$;
