-- The claim order's sort key (docs/concepts/ranking.md#claim-order). Agents take open tasks by ascending key.
-- The key is a point in time: when the task became available, moved earlier by bounded boosts for
-- priority and hot score, and no later than DEADLINE_LEAD before its deadline. Time advances for
-- every task alike, so ordering by the key is ordering by waiting time plus boosts; as the boosts
-- are bounded, a task that has waited longer than the largest boost is ahead of anything newer,
-- and nothing starves.
-- STABLE, as its body is (timestamptz minus interval is STABLE): declared IMMUTABLE over it, the
-- planner never inlined it, and every submission, vote and retry planned its body again (docs/costs.md).
CREATE OR REPLACE FUNCTION phoenix.claim_key(available_at timestamptz, priority integer, hot_score real, deadline timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT least(
        available_at
            - make_interval(secs => (priority - 5) * phoenix.k_priority_step_seconds())
            - make_interval(secs => least(greatest(hot_score, 0), phoenix.k_hot_boost_cap()) * phoenix.k_hot_boost_seconds()),
        -- least() ignores NULL, so a task without a deadline gets no deadline term; a deadline
        -- earlier than available_at cannot move the task further than DEADLINE_LEAD ahead
        CASE WHEN deadline IS NOT NULL
             THEN greatest(deadline, available_at) - make_interval(secs => phoenix.k_deadline_lead_seconds())
        END
    )
$$;
