-- Hormone arithmetic (docs/concepts/hormones.md). Levels are the seed's JSONB object of four numbers.

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
