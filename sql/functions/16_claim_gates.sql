-- Flow control (docs/concepts/flow-control.md): the gates a claim passes (pause, rate limit,
-- budget) per team and per category, the usage that budgets count, a task's time and concurrency
-- key. task_claim_as (21_task_claim.sql) asks these functions; a board with no row in
-- phoenix.claim_gates and no task with a concurrency key never calls past the first read.
-- Locks: a claim takes a concurrency key's slot, then rate slots ordered by (scope_kind, scope),
-- each with SKIP LOCKED (it never waits for them); usage_record locks gate rows (category, then
-- team), last in its transaction, and nothing waits on a task or an agent while holding one
-- (19_locking.sql).

-- The UTC hour and day a time falls in: a budget's windows. STABLE, as date_trunc with a zone is:
-- declared IMMUTABLE over it, the planner never inlined them (docs/costs.md).
CREATE OR REPLACE FUNCTION phoenix.gate_hour(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT date_trunc('hour', p_at, 'UTC') $$;
CREATE OR REPLACE FUNCTION phoenix.gate_day(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT date_trunc('day', p_at, 'UTC') $$;

-- A rate limit is shared out over slots (phoenix.claim_gate_slots): one per 10 claims a second,
-- at most 16, so that claims of a busy scope do not queue behind one row lock until their commit.
-- Each slot is a generic cell rate algorithm: its claims are spaced slots × 60 / rate seconds, and
-- its schedule may run ahead of the clock by its share of the burst (one second's worth of claims
-- unless set), so that a burst may go back to back after a quiet spell.
CREATE OR REPLACE FUNCTION phoenix.gate_slot_count(p_per_minute integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT least(16, greatest(1, p_per_minute / 600)) $$;
CREATE OR REPLACE FUNCTION phoenix.gate_spacing(g phoenix.claim_gates) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT make_interval(secs => 60.0 * phoenix.gate_slot_count(g.rate_per_minute) / g.rate_per_minute)
$$;
CREATE OR REPLACE FUNCTION phoenix.gate_tolerance(g phoenix.claim_gates) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT phoenix.gate_spacing(g)
           * (ceil(coalesce(g.rate_burst, greatest(1, ceil(g.rate_per_minute / 60.0)::integer))::float8
                   / phoenix.gate_slot_count(g.rate_per_minute)) - 1)
$$;

-- Why a gate holds claims back at p_now: 'paused', 'budget' (spent in this hour or day), 'rate'
-- (no slot's next claim is due yet), or NULL when it lets a claim through.
CREATE OR REPLACE FUNCTION phoenix.gate_blocked(g phoenix.claim_gates, p_now timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN g.paused_at IS NOT NULL THEN 'paused'
        WHEN (g.hour_start = phoenix.gate_hour(p_now)
              AND (g.hour_cost >= g.budget_hour_cost OR g.hour_tokens >= g.budget_hour_tokens)) IS TRUE
          OR (g.day_start = phoenix.gate_day(p_now)
              AND (g.day_cost >= g.budget_day_cost OR g.day_tokens >= g.budget_day_tokens)) IS TRUE
             THEN 'budget'
        WHEN g.rate_per_minute IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM phoenix.claim_gate_slots s
                              WHERE s.scope_kind = g.scope_kind AND s.scope = g.scope
                                AND s.tat - phoenix.gate_tolerance(g) <= p_now) THEN 'rate'
    END
$$;

-- Charges a claim of a task of p_category for an agent of p_team to the rate limits in force:
-- for each rate-limited gate of the two scopes (in the lock order) takes the slot due first that
-- no other claim holds; only when every gate has one moves each taken slot on by one spacing.
-- Returns NULL when charged, else the scope_kind of the gate that holds the claim back (nothing
-- charged). A slot held by a concurrent claim is skipped, never waited for.
CREATE OR REPLACE FUNCTION phoenix.gate_take(p_team text, p_category text, p_now timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    g phoenix.claim_gates;
    v_slot integer;
    v_kinds text[] := '{}';
    v_scopes text[] := '{}';
    v_slots integer[] := '{}';
    v_spacings interval[] := '{}';
BEGIN
    FOR g IN SELECT * FROM phoenix.claim_gates
              WHERE ((scope_kind = 'team' AND scope = p_team) OR (scope_kind = 'category' AND scope = p_category))
                AND rate_per_minute IS NOT NULL
              ORDER BY scope_kind, scope
    LOOP
        SELECT s.slot INTO v_slot FROM phoenix.claim_gate_slots s
         WHERE s.scope_kind = g.scope_kind AND s.scope = g.scope AND s.tat - phoenix.gate_tolerance(g) <= p_now
         ORDER BY s.tat, s.slot
         LIMIT 1
           FOR NO KEY UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN g.scope_kind;
        END IF;
        v_kinds := v_kinds || g.scope_kind;
        v_scopes := v_scopes || g.scope;
        v_slots := v_slots || v_slot;
        v_spacings := v_spacings || phoenix.gate_spacing(g);
    END LOOP;
    FOR i IN 1 .. cardinality(v_slots) LOOP
        UPDATE phoenix.claim_gate_slots SET tat = greatest(tat, p_now) + v_spacings[i]
         WHERE scope_kind = v_kinds[i] AND scope = v_scopes[i] AND slot = v_slots[i];
    END LOOP;
    RETURN NULL;
END;
$$;

-- Takes a slot of a task's concurrency key for it (task_claim_as): a slot whose task is no longer
-- in flight, not held by another claim. Returns false when every slot up to the task's limit is
-- taken. The slot's task is checked again once it is locked: a claim that committed meanwhile may
-- have written its task there.
CREATE OR REPLACE FUNCTION phoenix.concurrency_take(t phoenix.tasks) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_slot integer;
    v_holder uuid;
BEGIN
    SELECT s.slot, s.task_id INTO v_slot, v_holder FROM phoenix.concurrency_slots s
     WHERE s.key = t.concurrency_key AND s.slot <= t.concurrency_limit
       AND (s.task_id IS NULL OR NOT EXISTS (SELECT 1 FROM phoenix.tasks o
                                              WHERE o.id = s.task_id AND o.status IN ('claimed', 'in_progress')))
     ORDER BY s.slot
     LIMIT 1
       FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND OR (v_holder IS NOT NULL AND EXISTS (
            SELECT 1 FROM phoenix.tasks o WHERE o.id = v_holder AND o.status IN ('claimed', 'in_progress'))) THEN
        RETURN false;
    END IF;
    UPDATE phoenix.concurrency_slots SET task_id = t.id WHERE key = t.concurrency_key AND slot = v_slot;
    RETURN true;
END;
$$;

-- The gate row of a scope, made when missing; scope_kind checked with a plain message.
CREATE OR REPLACE FUNCTION phoenix.gate_row(p_kind text, p_scope text, p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('team', 'category') THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = format('scope kind must be team or category, not %s', p_kind);
    END IF;
    IF p_kind = 'team' AND NOT EXISTS (SELECT 1 FROM phoenix.teams WHERE name = p_scope) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBNF0', MESSAGE = format('team %s not found; create it first', p_scope);
    END IF;
    INSERT INTO phoenix.claim_gates (scope_kind, scope, updated_at) VALUES (p_kind, p_scope, p_now)
    ON CONFLICT DO NOTHING;
END;
$$;

-- Pause (p_paused) or resume a scope: claims of it stop (or may go again) from the next claim on,
-- on every pool. Pausing a paused scope keeps its first pause time. Returns the gate row.
CREATE OR REPLACE FUNCTION phoenix.gate_pause(p_kind text, p_scope text, p_paused boolean, p_reason text,
                                              p_now timestamptz DEFAULT NULL)
RETURNS phoenix.claim_gates
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    g phoenix.claim_gates;
BEGIN
    PERFORM phoenix.gate_row(p_kind, p_scope, v_now);
    UPDATE phoenix.claim_gates
       SET paused_at = CASE WHEN p_paused THEN coalesce(paused_at, v_now) END,
           paused_reason = CASE WHEN p_paused THEN coalesce(p_reason, paused_reason) END,
           updated_at = v_now
     WHERE scope_kind = p_kind AND scope = p_scope
    RETURNING * INTO g;
    RETURN g;
END;
$$;

-- Sets (or with NULL removes) a scope's rate limit in claims per minute; a new limit starts with
-- a full burst, on new slots.
CREATE OR REPLACE FUNCTION phoenix.gate_rate(p_kind text, p_scope text, p_per_minute integer, p_burst integer,
                                             p_now timestamptz DEFAULT NULL)
RETURNS phoenix.claim_gates
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    g phoenix.claim_gates;
BEGIN
    PERFORM phoenix.gate_row(p_kind, p_scope, v_now);
    UPDATE phoenix.claim_gates
       SET rate_per_minute = p_per_minute, rate_burst = CASE WHEN p_per_minute IS NOT NULL THEN p_burst END,
           updated_at = v_now
     WHERE scope_kind = p_kind AND scope = p_scope
    RETURNING * INTO g;
    -- new slots, due at once
    DELETE FROM phoenix.claim_gate_slots WHERE scope_kind = p_kind AND scope = p_scope;
    IF p_per_minute IS NOT NULL THEN
        INSERT INTO phoenix.claim_gate_slots (scope_kind, scope, slot)
        SELECT p_kind, p_scope, n FROM generate_series(1, phoenix.gate_slot_count(p_per_minute)) AS n;
    END IF;
    RETURN g;
END;
$$;

-- Sets a scope's budgets (NULL: none of that kind) and recounts what it spent in the current
-- hour and day from phoenix.task_usage, so that a budget set at 14:30 counts since 14:00.
CREATE OR REPLACE FUNCTION phoenix.gate_budget(p_kind text, p_scope text, p_hour_cost numeric, p_day_cost numeric,
                                               p_hour_tokens bigint, p_day_tokens bigint,
                                               p_now timestamptz DEFAULT NULL)
RETURNS phoenix.claim_gates
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_hour timestamptz := phoenix.gate_hour(v_now);
    v_day timestamptz := phoenix.gate_day(v_now);
    g phoenix.claim_gates;
    s record;
BEGIN
    PERFORM phoenix.gate_row(p_kind, p_scope, v_now);
    PERFORM 1 FROM phoenix.claim_gates WHERE scope_kind = p_kind AND scope = p_scope FOR NO KEY UPDATE;
    SELECT coalesce(sum(cost) FILTER (WHERE at >= v_hour), 0) AS hour_cost,
           coalesce(sum(tokens_in + tokens_out) FILTER (WHERE at >= v_hour), 0) AS hour_tokens,
           coalesce(sum(cost), 0) AS day_cost, coalesce(sum(tokens_in + tokens_out), 0) AS day_tokens
      INTO s
      FROM phoenix.task_usage u
     WHERE u.at >= v_day AND u.at < v_day + interval '1 day'
       AND CASE p_kind WHEN 'team' THEN u.team = p_scope ELSE u.category = p_scope END;
    UPDATE phoenix.claim_gates
       SET budget_hour_cost = p_hour_cost, budget_day_cost = p_day_cost,
           budget_hour_tokens = p_hour_tokens, budget_day_tokens = p_day_tokens,
           hour_start = v_hour, hour_cost = s.hour_cost, hour_tokens = s.hour_tokens,
           day_start = v_day, day_cost = s.day_cost, day_tokens = s.day_tokens, updated_at = v_now
     WHERE scope_kind = p_kind AND scope = p_scope
    RETURNING * INTO g;
    RETURN g;
END;
$$;

-- Adds one spend to a scope's gate row, if it has one, starting a new hour or day when the window
-- has moved on.
CREATE OR REPLACE FUNCTION phoenix.gate_spend(p_kind text, p_scope text, p_cost numeric, p_tokens bigint,
                                              p_now timestamptz)
RETURNS void
LANGUAGE sql AS $$
    UPDATE phoenix.claim_gates
       SET hour_cost = CASE WHEN hour_start = phoenix.gate_hour(p_now) THEN hour_cost ELSE 0 END + p_cost,
           hour_tokens = CASE WHEN hour_start = phoenix.gate_hour(p_now) THEN hour_tokens ELSE 0 END + p_tokens,
           hour_start = phoenix.gate_hour(p_now),
           day_cost = CASE WHEN day_start = phoenix.gate_day(p_now) THEN day_cost ELSE 0 END + p_cost,
           day_tokens = CASE WHEN day_start = phoenix.gate_day(p_now) THEN day_tokens ELSE 0 END + p_tokens,
           day_start = phoenix.gate_day(p_now)
     WHERE scope_kind = p_kind AND scope = p_scope
$$;

-- Records what an attempt spent, from the "usage" object of its result's output:
-- {"tokens_in": n, "tokens_out": n, "cost": x, "model": "name"}, every field optional. NULL or
-- no usage records nothing; a malformed one is refused (and so is the result with it).
CREATE OR REPLACE FUNCTION phoenix.usage_record(t phoenix.tasks, p_agent uuid, p_usage jsonb, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_key text;
    v_in bigint;
    v_out bigint;
    v_cost numeric;
    v_model text;
BEGIN
    IF p_usage IS NULL OR jsonb_typeof(p_usage) = 'null' THEN
        RETURN;
    END IF;
    IF jsonb_typeof(p_usage) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = 'output.usage must be an object of tokens_in, tokens_out, cost and model';
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(p_usage) AS k
     WHERE k NOT IN ('tokens_in', 'tokens_out', 'cost', 'model') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('output.usage: unknown field %s (give tokens_in, tokens_out, cost, model)', left(v_key, 60));
    END IF;
    FOREACH v_key IN ARRAY ARRAY['tokens_in', 'tokens_out', 'cost'] LOOP
        IF p_usage ? v_key AND (jsonb_typeof(p_usage -> v_key) <> 'number' OR (p_usage ->> v_key)::numeric < 0
                                OR (v_key <> 'cost' AND (p_usage ->> v_key)::numeric <> trunc((p_usage ->> v_key)::numeric))) THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0',
                MESSAGE = format('output.usage.%s must be a %s number, not %s', v_key,
                                 CASE v_key WHEN 'cost' THEN 'non-negative' ELSE 'whole non-negative' END,
                                 left(p_usage ->> v_key, 60));
        END IF;
    END LOOP;
    IF p_usage ? 'model' AND (jsonb_typeof(p_usage -> 'model') <> 'string' OR length(p_usage ->> 'model') NOT BETWEEN 1 AND 200) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'output.usage.model must be a name of 1-200 characters';
    END IF;
    v_in := coalesce((p_usage ->> 'tokens_in')::numeric, 0);
    v_out := coalesce((p_usage ->> 'tokens_out')::numeric, 0);
    v_cost := coalesce((p_usage ->> 'cost')::numeric, 0);
    v_model := p_usage ->> 'model';
    INSERT INTO phoenix.task_usage (task_id, attempt, agent_id, team, category, model, tokens_in, tokens_out, cost, at)
    VALUES (t.id, t.attempt, p_agent, t.team, t.category, v_model, v_in, v_out, v_cost, p_now)
    ON CONFLICT (task_id, attempt) DO NOTHING;
    -- the lock order: category before team ((scope_kind, scope) order)
    PERFORM phoenix.gate_spend('category', t.category, v_cost, v_in + v_out, p_now);
    PERFORM phoenix.gate_spend('team', t.team, v_cost, v_in + v_out, p_now);
END;
$$;
