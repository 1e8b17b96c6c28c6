-- Periodic maintenance the beat calls (README "Ranking", "Hormones").

-- One batch of the hot-rank refresh, Lemmy-style: in creation order after p_after, SKIP LOCKED so
-- that it never waits on a live transition. The rows are those inside Lemmy's 7-day window, plus
-- any older row still ranked (it gets its final 0). Lemmy selects by rank != 0 and gives new posts
-- a placeholder rank; selecting by the window keeps every stored rank a value of hot_rank(),
-- which is 0 at the very instant of creation. A row is rewritten only when one of its ranks moved
-- by more than RANK_REFRESH_TOLERANCE (or reached 0): a day-old task's rank moves ~0.04 % a
-- minute, so rewriting the whole window every tick would be almost all waste.
-- Returns how many rows it rewrote, and the created_at to continue after (NULL when done).
CREATE OR REPLACE FUNCTION phoenix.tasks_refresh_ranks(
    p_after timestamptz, p_batch integer, p_now timestamptz DEFAULT NULL,
    OUT updated integer, OUT next_after timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    v_scanned integer;
BEGIN
    WITH batch AS (
        SELECT id, created_at FROM phoenix.tasks
         WHERE created_at > p_after
           AND (created_at > v_now - interval '7 days' OR hot_score > 0 OR active_score > 0)
         ORDER BY created_at
         LIMIT p_batch
    ), ranked AS (
        SELECT t.id, phoenix.hot_rank(t.score, t.created_at, v_now) AS hot,
               phoenix.hot_rank(t.score, t.last_activity_at, v_now) AS active
          FROM phoenix.tasks t JOIN batch USING (id)
    ), moved AS (
        SELECT t.id, r.hot, r.active FROM phoenix.tasks t JOIN ranked r USING (id)
         WHERE abs(r.hot - t.hot_score) > phoenix.k_rank_refresh_tolerance() * t.hot_score
            OR abs(r.active - t.active_score) > phoenix.k_rank_refresh_tolerance() * t.active_score
            OR (r.hot = 0) <> (t.hot_score = 0) OR (r.active = 0) <> (t.active_score = 0)
           FOR UPDATE OF t SKIP LOCKED
    ), changed AS (
        UPDATE phoenix.tasks t
           SET hot_score = moved.hot,
               active_score = moved.active,
               claim_key = CASE WHEN t.status = 'open'
                   THEN phoenix.claim_key(t.available_at, t.priority, moved.hot, t.deadline)
                   ELSE t.claim_key END
          FROM moved WHERE t.id = moved.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM changed), (SELECT count(*) FROM batch), (SELECT max(created_at) FROM batch)
      INTO updated, v_scanned, next_after;
    IF v_scanned < p_batch THEN
        next_after := NULL;
    END IF;
END;
$$;

-- Decay every active agent's hormones toward baseline from hormones_at to p_now.
CREATE OR REPLACE FUNCTION phoenix.hormones_decay_all(p_half_life_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
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
