-- Periodic maintenance the beat calls (docs/concepts/ranking.md, docs/concepts/hormones.md).

-- The hot-rank refresh, Lemmy-style (docs/concepts/ranking.md#hot-rank): the beat walks Lemmy's 7-day window in
-- creation order, in batches, then re-ranks the few older rows still ranked (a final 0, or an
-- active rank kept up by recent comments). Lemmy selects by rank != 0 and gives new posts a
-- placeholder rank; walking the window keeps every stored rank a value of hot_rank(), which is 0 at
-- the very instant of creation. A row is rewritten only when one of its ranks moved by more than
-- RANK_REFRESH_TOLERANCE (or reached 0): a day-old task's rank moves ~0.04 % a minute, so rewriting
-- the whole window every tick would be almost all waste. SKIP LOCKED: never waits on a transition.

-- Re-ranks the given tasks; returns how many it rewrote.
CREATE OR REPLACE FUNCTION phoenix.tasks_rerank(p_ids uuid[], p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    n integer;
BEGIN
    WITH estimated AS (
        -- the cheap estimate first: only rows whose rank may have moved get the exact (numeric) rank
        SELECT t.id, t.score, t.created_at, t.last_activity_at
          FROM phoenix.tasks t
         CROSS JOIN LATERAL (SELECT phoenix.hot_rank_estimate(t.score, t.created_at, p_now) AS hot,
                                    phoenix.hot_rank_estimate(t.score, t.last_activity_at, p_now) AS active) e
         WHERE t.id = ANY (p_ids)
           AND (abs(e.hot - t.hot_score) > phoenix.k_rank_refresh_tolerance() * t.hot_score
                OR abs(e.active - t.active_score) > phoenix.k_rank_refresh_tolerance() * t.active_score
                OR (e.hot = 0) <> (t.hot_score = 0) OR (e.active = 0) <> (t.active_score = 0))
    ), moved AS (
        SELECT t.id, r.hot,
               CASE WHEN e.last_activity_at = e.created_at THEN r.hot
                    ELSE phoenix.hot_rank(e.score, e.last_activity_at, p_now) END AS active
          FROM estimated e
          JOIN phoenix.tasks t USING (id)
         CROSS JOIN LATERAL (SELECT phoenix.hot_rank(e.score, e.created_at, p_now) AS hot) r
           FOR UPDATE OF t SKIP LOCKED
    )
    UPDATE phoenix.tasks t
       SET hot_score = moved.hot,
           active_score = moved.active,
           claim_key = CASE WHEN t.status = 'open'
               THEN phoenix.claim_key(t.available_at, t.priority, moved.hot, t.deadline)
               ELSE t.claim_key END
      FROM moved WHERE t.id = moved.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

-- One batch of the window, after p_after; next_after is NULL when the window is done.
CREATE OR REPLACE FUNCTION phoenix.tasks_refresh_ranks(
    p_after timestamptz, p_batch integer, p_now timestamptz DEFAULT NULL,
    OUT updated integer, OUT next_after timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    v_ids uuid[];
    v_last timestamptz;
BEGIN
    -- a range scan of the created_at index: only the window, however long the history
    SELECT array_agg(id), max(created_at) INTO v_ids, v_last
      FROM (SELECT id, created_at FROM phoenix.tasks
             WHERE created_at > greatest(p_after, v_now - interval '7 days')
             ORDER BY created_at LIMIT p_batch) AS batch;
    updated := coalesce(phoenix.tasks_rerank(v_ids, v_now), 0);
    next_after := CASE WHEN cardinality(v_ids) = p_batch THEN v_last END;
END;
$$;

-- The rows older than the window that are still ranked, found through the partial rank indexes.
CREATE OR REPLACE FUNCTION phoenix.tasks_refresh_ranks_outside(p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT coalesce(phoenix.tasks_rerank(array_agg(id), phoenix.clock(p_now)), 0)
      FROM (SELECT id FROM phoenix.tasks
             WHERE hot_score > 0 AND created_at <= phoenix.clock(p_now) - interval '7 days'
            UNION
            SELECT id FROM phoenix.tasks
             WHERE active_score > 0 AND created_at <= phoenix.clock(p_now) - interval '7 days') AS outside
$$;

-- Decay every active agent's hormones toward baseline from hormones_at to p_now.
CREATE OR REPLACE FUNCTION phoenix.hormones_decay_all(p_half_life_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := phoenix.clock(p_now);
    n integer;
BEGIN
    UPDATE phoenix.agents
       SET hormone_levels = phoenix.hormones_decay(hormone_levels, extract(epoch FROM v_now - hormones_at), p_half_life_seconds),
           hormones_at = v_now
     WHERE decommissioned_at IS NULL AND hormones_at < v_now;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;
