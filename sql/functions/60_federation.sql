-- Partners and supervisors (docs/concepts/partners.md). Operator functions: the agent
-- role is granted none of them. Each keeps both sides of a relation in step in one transaction,
-- holding every agent row it changes locked in id order (the board's lock order, atop 19_locking.sql).

-- Locks the given agents in id order (the board's order, so that two operators never deadlock).
CREATE OR REPLACE FUNCTION phoenix.agents_lock(p_agents uuid[])
RETURNS void
LANGUAGE sql
AS $$ SELECT count(*) FROM (SELECT id FROM phoenix.agents WHERE id = ANY (p_agents) ORDER BY id FOR NO KEY UPDATE) AS l $$;

-- Pairs two agents; pairing them again changes nothing. Refused past PARTNERS_MAX on either side.
CREATE OR REPLACE FUNCTION phoenix.agent_pair(p_a uuid, p_b uuid, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents;
    b phoenix.agents;
    v_max integer := phoenix.k_partners_max()::integer;
BEGIN
    PERFORM phoenix.clock(p_now);
    a := phoenix.agent_in_service(p_a);
    IF p_a IS NOT DISTINCT FROM p_b THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('agent %s cannot be its own partner', a.codename);
    END IF;
    PERFORM phoenix.agent_in_service(p_b);
    -- members are people (docs/concepts/review.md#members): no partners, no supervisors
    IF EXISTS (SELECT 1 FROM phoenix.agents WHERE id IN (p_a, p_b) AND kind = 'member') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'members (people) have no partners; pair two agents';
    END IF;
    PERFORM phoenix.agents_lock(ARRAY[p_a, p_b]);
    SELECT * INTO a FROM phoenix.agents WHERE id = p_a;
    SELECT * INTO b FROM phoenix.agents WHERE id = p_b;
    IF p_b = ANY (a.paired_agents) THEN
        RETURN QUERY SELECT * FROM phoenix.agents WHERE id IN (p_a, p_b) ORDER BY id;
        RETURN;
    END IF;
    IF cardinality(a.paired_agents) >= v_max OR cardinality(b.paired_agents) >= v_max THEN
        RAISE EXCEPTION USING ERRCODE = 'PBCF0',
            MESSAGE = format('agent %s already has %s partners (the maximum); unpair one first',
                             CASE WHEN cardinality(a.paired_agents) >= v_max THEN a.codename ELSE b.codename END, v_max);
    END IF;
    UPDATE phoenix.agents
       SET paired_agents = ARRAY(SELECT x FROM unnest(paired_agents || CASE WHEN id = p_a THEN p_b ELSE p_a END) AS x ORDER BY x)
     WHERE id IN (p_a, p_b);
    RETURN QUERY SELECT * FROM phoenix.agents WHERE id IN (p_a, p_b) ORDER BY id;
END;
$$;

CREATE OR REPLACE FUNCTION phoenix.agent_unpair(p_a uuid, p_b uuid, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    a phoenix.agents;
BEGIN
    PERFORM phoenix.clock(p_now);
    SELECT * INTO a FROM phoenix.agents WHERE id = p_a;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agent %s not found', p_a);
    END IF;
    PERFORM phoenix.agents_lock(ARRAY[p_a, p_b]);
    SELECT * INTO a FROM phoenix.agents WHERE id = p_a;
    IF p_b IS NULL OR NOT (p_b = ANY (a.paired_agents)) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agents %s and %s are not partners', a.codename,
            coalesce((SELECT codename FROM phoenix.agents WHERE id = p_b), p_b::text));
    END IF;
    UPDATE phoenix.agents
       SET paired_agents = array_remove(paired_agents, CASE WHEN id = p_a THEN p_b ELSE p_a END)
     WHERE id IN (p_a, p_b);
    RETURN QUERY SELECT * FROM phoenix.agents WHERE id IN (p_a, p_b) ORDER BY id;
END;
$$;

-- Sets (p_supervisor not NULL) or removes (NULL) the supervisor of p_subordinate, keeping the old
-- and the new supervisor's subordinate_agents in step. The relation is a forest: a supervisor
-- that is p_subordinate or one of its subordinates, at any depth, is refused. Two operators
-- could each add half of a cycle if both checked before either committed, so changes to the
-- relation take one transaction-scoped advisory lock first (rare operator writes; nothing else
-- takes it, so it adds no lock cycle).
CREATE OR REPLACE FUNCTION phoenix.agent_supervise(p_supervisor uuid, p_subordinate uuid, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.agents
LANGUAGE plpgsql
AS $$
DECLARE
    s phoenix.agents;
    sub phoenix.agents;
    v_chain text;
BEGIN
    PERFORM phoenix.clock(p_now);
    IF p_subordinate IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'a subordinate is required';
    END IF;
    IF p_supervisor = p_subordinate THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('agent %s cannot supervise itself',
            coalesce((SELECT codename FROM phoenix.agents WHERE id = p_subordinate), p_subordinate::text));
    END IF;
    IF EXISTS (SELECT 1 FROM phoenix.agents WHERE id IN (p_supervisor, p_subordinate) AND kind = 'member') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'members (people) neither supervise nor are supervised';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('phoenix.agent_supervise'));
    IF p_supervisor IS NULL THEN
        SELECT * INTO sub FROM phoenix.agents WHERE id = p_subordinate;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agent %s not found', p_subordinate);
        END IF;
        IF sub.supervisor_agent IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('agent %s has no supervisor', sub.codename);
        END IF;
    ELSE
        s := phoenix.agent_in_service(p_supervisor);
        sub := phoenix.agent_in_service(p_subordinate);
        IF sub.supervisor_agent = p_supervisor THEN
            RETURN QUERY SELECT * FROM phoenix.agents WHERE id IN (p_supervisor, p_subordinate) ORDER BY id;
            RETURN;
        END IF;
        -- the supervisor's chain upwards; the subordinate in it would close a cycle
        WITH RECURSIVE up (id, codename, supervisor_agent, depth) AS (
            SELECT id, codename, supervisor_agent, 1 FROM phoenix.agents WHERE id = p_supervisor
            UNION ALL
            SELECT a.id, a.codename, a.supervisor_agent, up.depth + 1
              FROM up JOIN phoenix.agents a ON a.id = up.supervisor_agent
             WHERE up.id <> p_subordinate AND up.depth < 100000
        )
        SELECT string_agg(codename, ' -> ' ORDER BY depth DESC) INTO v_chain FROM up
         WHERE EXISTS (SELECT 1 FROM up u WHERE u.id = p_subordinate);
        IF v_chain IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBCF0',
                MESSAGE = format('%s cannot supervise %s: that would make a cycle (%s -> %s); the supervisor relation is a forest',
                                 s.codename, sub.codename, v_chain, sub.codename);
        END IF;
    END IF;
    PERFORM phoenix.agents_lock(array_remove(ARRAY[p_supervisor, p_subordinate, sub.supervisor_agent], NULL));
    SELECT * INTO sub FROM phoenix.agents WHERE id = p_subordinate;
    UPDATE phoenix.agents SET subordinate_agents = array_remove(subordinate_agents, p_subordinate)
     WHERE id = sub.supervisor_agent;
    UPDATE phoenix.agents
       SET subordinate_agents = ARRAY(SELECT x FROM unnest(subordinate_agents || p_subordinate) AS x ORDER BY x)
     WHERE id = p_supervisor;
    UPDATE phoenix.agents SET supervisor_agent = p_supervisor WHERE id = p_subordinate;
    RETURN QUERY SELECT * FROM phoenix.agents
                  WHERE id IN (p_subordinate, p_supervisor, sub.supervisor_agent) ORDER BY id;
END;
$$;

-- A pair's shared record (docs/concepts/partners.md): the interactions between a and b,
-- either direction, within ENTANGLEMENT_WINDOW_SECONDS before p_at. Cascades ('sync') are left
-- out, or every cascade would strengthen the pair that carried it.
--   n        shared interactions; agreed: those that were positive (success)
--   entanglement_strength = (agreed + 1) / (n + 2) * n / (n + ENTANGLEMENT_EVIDENCE_SCALE)
--            the beta mean of their agreement times how much evidence there is: 0 with no record,
--            below 1 always
--   coherence_time = last - first shared interaction (0 with fewer than two)
CREATE OR REPLACE FUNCTION phoenix.pair_entanglement(
    p_a uuid, p_b uuid, p_at timestamptz,
    OUT shared integer, OUT entanglement_strength float8, OUT coherence_time interval)
LANGUAGE sql STABLE
AS $$
    SELECT count(*)::integer,
           (count(*) FILTER (WHERE success) + 1)::float8 / (count(*) + 2)
               * count(*) / (count(*) + phoenix.k_entanglement_evidence_scale()),
           coalesce(max(at) - min(at), interval '0')
      FROM phoenix.agent_interactions
     WHERE ((agent_from = p_a AND agent_to = p_b) OR (agent_from = p_b AND agent_to = p_a))
       AND interaction_type <> 'sync'
       AND at > p_at - make_interval(secs => phoenix.k_entanglement_window_seconds()) AND at <= p_at
$$;

-- Every partner pair (a < b) with its team (NULL when the two are on different teams) and figures.
CREATE OR REPLACE FUNCTION phoenix.pairs_entanglement(p_at timestamptz)
RETURNS TABLE (agent_a uuid, agent_b uuid, team text, active boolean, shared integer,
               entanglement_strength float8, coherence_time interval)
LANGUAGE sql STABLE
AS $$
    SELECT a.id, b.id, CASE WHEN a.team = b.team THEN a.team END,
           a.decommissioned_at IS NULL AND b.decommissioned_at IS NULL
               AND a.last_heartbeat > p_at - make_interval(secs => phoenix.k_active_agent_seconds())
               AND b.last_heartbeat > p_at - make_interval(secs => phoenix.k_active_agent_seconds()),
           e.shared, e.entanglement_strength, e.coherence_time
      FROM phoenix.agents a
      JOIN phoenix.agents b ON b.id = ANY (a.paired_agents) AND a.id < b.id
     CROSS JOIN LATERAL phoenix.pair_entanglement(a.id, b.id, p_at) AS e
$$;
