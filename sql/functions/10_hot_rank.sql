-- The hot-rank formula's one home. Lemmy's hot rank (crates/diesel_utils/replaceable_schema/
-- utils.sql, r.hot_rank), with the clock as an argument so that callers and tests can pin it.
-- Same arithmetic and the same real result:
-- log10(max(2, score + 2)) / (hours since published + 2) ^ 1.8, and 0 outside (0, 7 days),
-- which also stops a task dated in the future from gaming the rank.
CREATE OR REPLACE FUNCTION phoenix.hot_rank(score numeric, published timestamptz, at timestamptz DEFAULT now())
RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN (at - published) > '0 days' AND (at - published) < '7 days'
        THEN log(greatest(2, score + 2)) / power(((EXTRACT(EPOCH FROM (at - published)) / 3600) + 2), 1.8)
        ELSE 0.0
    END::real
$$;

-- The same formula in float8, about a hundred times cheaper than the numeric original. Used only to
-- decide which rows the refresh must re-rank (sql/functions/30_maintenance.sql); every stored rank
-- comes from hot_rank() itself. Its relative error (~1e-15) is far below the refresh tolerance.
-- A change to the formula changes both, here (tests/board/test_ranking.py checks that they agree).
CREATE OR REPLACE FUNCTION phoenix.hot_rank_estimate(score integer, published timestamptz, at timestamptz)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN (at - published) > '0 days' AND (at - published) < '7 days'
        THEN log(greatest(2, score + 2)::float8) / power(extract(epoch FROM (at - published))::float8 / 3600 + 2, 1.8)
        ELSE 0
    END
$$;

-- Lemmy's controversy rank: (up + down) ^ (minority / majority); 0 without both kinds of vote.
CREATE OR REPLACE FUNCTION phoenix.controversy_rank(upvotes numeric, downvotes numeric)
RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN downvotes <= 0 OR upvotes <= 0 THEN 0
        ELSE (upvotes + downvotes) ^ CASE WHEN upvotes > downvotes
                                         THEN downvotes::float / upvotes::float
                                         ELSE upvotes::float / downvotes::float END
    END::real
$$;
