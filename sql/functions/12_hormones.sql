-- Hormones (docs/concepts/hormones.md): their arithmetic, their decay, what stress does, and which event
-- moves which hormone (phoenix.hormone_response, at the end). Levels are the seed's JSONB object
-- of four numbers.

-- levels + delta, each clamped to [HORMONE_MIN, HORMONE_MAX]; keys missing from delta are unchanged.
-- One expression, STABLE like jsonb_build_object, so that the planner inlines it into the UPDATE
-- that calls it instead of planning a subquery on every call.
CREATE OR REPLACE FUNCTION phoenix.hormone_clamp(value float8)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT round(least(phoenix.k_hormone_max(), greatest(phoenix.k_hormone_min(), value))::numeric, 6)::float8 $$;

CREATE OR REPLACE FUNCTION phoenix.hormones_add(levels jsonb, delta jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT jsonb_build_object(
        'dopamine', phoenix.hormone_clamp(coalesce((levels ->> 'dopamine')::float8, 0) + coalesce((delta ->> 'dopamine')::float8, 0)),
        'oxytocin', phoenix.hormone_clamp(coalesce((levels ->> 'oxytocin')::float8, 0) + coalesce((delta ->> 'oxytocin')::float8, 0)),
        'adrenaline', phoenix.hormone_clamp(coalesce((levels ->> 'adrenaline')::float8, 0) + coalesce((delta ->> 'adrenaline')::float8, 0)),
        'cortisol', phoenix.hormone_clamp(coalesce((levels ->> 'cortisol')::float8, 0) + coalesce((delta ->> 'cortisol')::float8, 0)))
$$;

-- Exponential decay toward the seed's baselines: b + (v - b) * 2^(-elapsed / half_life).
CREATE OR REPLACE FUNCTION phoenix.hormones_decay(levels jsonb, elapsed_seconds float8, half_life_seconds float8)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT jsonb_object_agg(h, round((b + ((levels ->> h)::float8 - b)
               -- capped: past ~1074 half-lives 2^-x underflows (an error in PostgreSQL); any factor
               -- below 2^-20 already rounds away at 6 decimals
               * power(2.0::float8, -least(greatest(elapsed_seconds, 0) / half_life_seconds, 1000)))::numeric, 6))
    FROM (VALUES ('dopamine', phoenix.k_baseline_dopamine()),
                 ('oxytocin', phoenix.k_baseline_oxytocin()),
                 ('adrenaline', phoenix.k_baseline_adrenaline()),
                 ('cortisol', phoenix.k_baseline_cortisol())) AS base (h, b)
$$;

-- Stress limits the size of task an agent takes: a stressed agent takes smaller tasks.
CREATE OR REPLACE FUNCTION phoenix.stress_size_cap(levels jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN (levels ->> 'cortisol')::float8 >= phoenix.k_stress_cortisol_high() THEN phoenix.k_stress_size_high()::integer
        WHEN (levels ->> 'cortisol')::float8 >= phoenix.k_stress_cortisol_medium() THEN phoenix.k_stress_size_medium()::integer
        ELSE 21
    END
$$;

-- Which event moves which hormone, and by how much: THE one table of hormone responses
-- (docs/concepts/hormones.md). Every path that changes an agent's hormones for an event asks it: the end of an
-- attempt (agent_outcome), a claim near its deadline (task_claim_as), a vote on one's task
-- (task_vote), a review verdict on one's work (task_review). Where the event has a size, p_scale
-- scales the response: a completion by the task's reward and p_quality, an urgent claim by its
-- urgency in [0, 1]; other events ignore both. The numbers are constants.py's.
CREATE OR REPLACE FUNCTION phoenix.hormone_response(p_event text, p_scale float8 DEFAULT 1, p_quality float8 DEFAULT 1)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    delta jsonb := CASE p_event
        WHEN 'completed' THEN jsonb_build_object('dopamine', phoenix.k_dopamine_per_completion() * p_scale * p_quality,
                                                 'cortisol', -phoenix.k_cortisol_relief_per_completion())
        -- every failed attempt: a failure, an expired lease, a rejected review, a release
        WHEN 'failed' THEN jsonb_build_object('cortisol', phoenix.k_cortisol_per_failure(),
                                              'dopamine', -phoenix.k_dopamine_loss_per_failure())
        WHEN 'urgent_claim' THEN jsonb_build_object('adrenaline', phoenix.k_adrenaline_per_urgent_claim() * p_scale)
        WHEN 'upvoted' THEN jsonb_build_object('oxytocin', phoenix.k_oxytocin_per_upvote())
        WHEN 'downvoted' THEN jsonb_build_object('cortisol', phoenix.k_cortisol_per_downvote())
        WHEN 'approved' THEN jsonb_build_object('oxytocin', phoenix.k_oxytocin_per_approval())
        WHEN 'rejected' THEN jsonb_build_object('cortisol', phoenix.k_cortisol_per_rejection())
    END;
BEGIN
    IF delta IS NULL THEN
        RAISE EXCEPTION 'no hormone response for event %', coalesce(p_event, 'NULL');
    END IF;
    RETURN delta;
END;
$$;
