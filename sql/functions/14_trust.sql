-- Trust: the beta reputation system (Josang and Ismail, 2002) with forgetting (docs/concepts/trust.md).
-- Each agent keeps evidence r (positive) and s (negative); a new rating (p, n) updates
--   r <- lambda * r + p,  s <- lambda * s + n,  trust = (r + 1) / (r + s + 2),
-- the mean of Beta(r + 1, s + 1): always inside (0, 1), 0.5 with no evidence.
CREATE OR REPLACE FUNCTION phoenix.trust_value(r float8, s float8)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (r + 1) / (r + s + 2) $$;

-- Applies the rating to agent `subject` and records who, whom, why and the delta.
-- The caller must already hold the subject's row lock or accept a short wait (agents after tasks).
CREATE OR REPLACE FUNCTION phoenix.trust_rate(
    subject uuid, positive float8, negative float8, rater uuid, why text, task uuid, at timestamptz,
    detail jsonb DEFAULT '{}')
RETURNS float8
LANGUAGE plpgsql
AS $$
DECLARE
    old_trust float8;
    new_trust float8;
BEGIN
    -- read under the row lock, so that concurrent ratings compose instead of overwriting
    SELECT trust_coefficient INTO old_trust FROM phoenix.agents WHERE id = subject FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    UPDATE phoenix.agents a
       SET trust_r = phoenix.k_trust_forgetting() * a.trust_r + greatest(positive, 0),
           trust_s = phoenix.k_trust_forgetting() * a.trust_s + greatest(negative, 0),
           trust_coefficient = phoenix.trust_value(phoenix.k_trust_forgetting() * a.trust_r + greatest(positive, 0),
                                                   phoenix.k_trust_forgetting() * a.trust_s + greatest(negative, 0))
     WHERE a.id = subject
    RETURNING a.trust_coefficient INTO new_trust;
    INSERT INTO phoenix.agent_interactions (agent_from, agent_to, interaction_type, task_id, trust_delta, success, metadata, at)
    VALUES (rater, subject, why, task, new_trust - old_trust, positive >= negative,
            detail || jsonb_build_object('positive', positive, 'negative', negative), at);
    RETURN new_trust - old_trust;
END;
$$;
