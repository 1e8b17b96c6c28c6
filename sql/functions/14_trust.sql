-- Trust: the beta reputation system (Josang and Ismail, 2002) with forgetting (docs/concepts/trust.md).
-- The whole trust model is this file: which event rates an agent by how much evidence
-- (trust_evidence), how a rating updates the evidence (trust_rate), and the trust it gives
-- (trust_value). Each agent keeps evidence r (positive) and s (negative); a new rating (p, n) updates
--   r <- lambda * r + p,  s <- lambda * s + n,  trust = (r + 1) / (r + s + 2),
-- the mean of Beta(r + 1, s + 1): always inside (0, 1), 0.5 with no evidence.
CREATE OR REPLACE FUNCTION phoenix.trust_value(r float8, s float8)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (r + 1) / (r + s + 2) $$;

-- The evidence (positive, negative) an event gives, with the weights of constants.py:
--   completed  the board rates an outcome without review; p_amount is the quality q in [0, 1]:
--              (q, 1 - q) x TRUST_OUTCOME_WEIGHT
--   failed     a failed attempt the board rates (failure, expired lease): (0, 1) x TRUST_OUTCOME_WEIGHT
--   approved   a reviewer's verdict +1 on the work; p_amount is the reviewer's own trust w: (w, 0)
--   rejected   a reviewer's verdict -1: (0, w)
--   agreed     a reviewer agreed with the review's consensus: (TRUST_CONSENSUS_WEIGHT, 0)
--   disagreed  a reviewer disagreed with it: (0, TRUST_CONSENSUS_WEIGHT)
--   delegation a delegator's join was decided; p_amount is the share of its settled children that
--              completed: (share, 1 - share) x TRUST_DELEGATION_WEIGHT
CREATE OR REPLACE FUNCTION phoenix.trust_evidence(p_event text, p_amount float8 DEFAULT NULL,
                                                  OUT positive float8, OUT negative float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    CASE p_event
        WHEN 'completed' THEN
            positive := phoenix.k_trust_outcome_weight() * p_amount;
            negative := phoenix.k_trust_outcome_weight() * (1 - p_amount);
        WHEN 'failed' THEN
            positive := 0;
            negative := phoenix.k_trust_outcome_weight();
        WHEN 'approved' THEN
            positive := p_amount;
            negative := 0;
        WHEN 'rejected' THEN
            positive := 0;
            negative := p_amount;
        WHEN 'agreed' THEN
            positive := phoenix.k_trust_consensus_weight();
            negative := 0;
        WHEN 'disagreed' THEN
            positive := 0;
            negative := phoenix.k_trust_consensus_weight();
        WHEN 'delegation' THEN
            positive := phoenix.k_trust_delegation_weight() * p_amount;
            negative := phoenix.k_trust_delegation_weight() * (1 - p_amount);
        ELSE
            RAISE EXCEPTION 'no trust evidence for event %', coalesce(p_event, 'NULL');
    END CASE;
END;
$$;

-- One rating's step of the model: the evidence and trust of an agent that had evidence (r, s) and
-- trust p_trust after a rating (positive, negative); no rating (both NULL) leaves all three as they
-- are. trust_rate applies it; agent_outcome and agent_rated apply it inside their own update of the
-- agent row, so that a result or a review verdict updates that row once (docs/costs.md).
-- plpgsql, not sql: called from FROM, a sql function that returns no set is never inlined, and a
-- sql function that is not inlined is planned again on every call (a tenth of a millisecond per
-- result); plpgsql keeps its expressions' plans for the session.
CREATE OR REPLACE FUNCTION phoenix.trust_update(r float8, s float8, p_trust float8, positive float8, negative float8,
                                                OUT new_r float8, OUT new_s float8, OUT new_trust float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF positive IS NULL AND negative IS NULL THEN
        new_r := r;
        new_s := s;
        new_trust := p_trust;
    ELSE
        new_r := phoenix.k_trust_forgetting() * r + greatest(coalesce(positive, 0), 0);
        new_s := phoenix.k_trust_forgetting() * s + greatest(coalesce(negative, 0), 0);
        new_trust := phoenix.trust_value(new_r, new_s);
    END IF;
END;
$$;

-- Records a rating that moved `subject`'s trust from p_old to p_new: who, whom, why and the delta
-- (agent_interactions, the subject's hash chain). The caller holds the subject's row lock.
-- plpgsql for the same reason as trust_update: its INSERT's plan is kept, not made on every call.
CREATE OR REPLACE FUNCTION phoenix.trust_record(
    subject uuid, positive float8, negative float8, rater uuid, why text, task uuid, at timestamptz,
    p_old float8, p_new float8, detail jsonb DEFAULT '{}', p_success boolean DEFAULT NULL, p_hormones jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO phoenix.agent_interactions
        (agent_from, agent_to, interaction_type, task_id, trust_delta, hormone_exchange, success, metadata, at)
    VALUES (rater, subject, why, task, p_new - p_old, p_hormones, coalesce(p_success, positive >= negative),
            detail || jsonb_build_object('positive', positive, 'negative', negative), at);
END;
$$;

-- Applies the rating to agent `subject` and records who, whom, why and the delta: how every rating
-- but an outcome's and a review verdict's changes trust (agent_outcome and agent_rated take the
-- same two steps, trust_update inside their own update of the row, then trust_record).
-- p_success is the interaction's success (default: the rating was rather positive);
-- p_hormones its hormone_exchange, when the same event moved hormones too (an outcome).
-- The caller must already hold the subject's row lock or accept a short wait (agents after tasks).
CREATE OR REPLACE FUNCTION phoenix.trust_rate(
    subject uuid, positive float8, negative float8, rater uuid, why text, task uuid, at timestamptz,
    detail jsonb DEFAULT '{}', p_success boolean DEFAULT NULL, p_hormones jsonb DEFAULT NULL)
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
       SET (trust_r, trust_s, trust_coefficient) =
           (SELECT u.new_r, u.new_s, u.new_trust
              FROM phoenix.trust_update(a.trust_r, a.trust_s, a.trust_coefficient, positive, negative) AS u)
     WHERE a.id = subject
    RETURNING a.trust_coefficient INTO new_trust;
    PERFORM phoenix.trust_record(subject, positive, negative, rater, why, task, at, old_trust, new_trust,
                                 detail, p_success, p_hormones);
    RETURN new_trust - old_trust;
END;
$$;
