-- The agent loop's round trips (docs/operations/running-agents.md): an agent that works task after task
-- needs one call per task, as River and Oban fold the acknowledgement into the next fetch.

-- Claim the next task and start it at once (the claimant begins its handler right away).
-- plpgsql, not sql: a volatile sql function is never inlined, so the agent loop's every first claim
-- planned this one again (as task_claim did before the third round, docs/costs.md)
CREATE OR REPLACE FUNCTION phoenix.task_claim_start(p_agent uuid, p_lease_seconds float8, p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM phoenix.task_claim_as(p_agent, p_lease_seconds, p_now, true);
END;
$$;

-- Submit the result of the current attempt, then claim and start the next task. Returns the
-- task the result was for (complete, or in review), then the next task if there is one. The
-- claim runs in a subtransaction: if it is refused, the result stands and no next task is returned.
CREATE OR REPLACE FUNCTION phoenix.task_result_claim_next(
    p_task uuid, p_agent uuid, p_attempt integer, p_output jsonb, p_quality real, p_lease_seconds float8,
    p_now timestamptz DEFAULT NULL)
RETURNS SETOF phoenix.tasks
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM phoenix.task_result(p_task, p_agent, p_attempt, p_output, p_quality, p_now);
    BEGIN
        RETURN QUERY SELECT * FROM phoenix.task_claim_start(p_agent, p_lease_seconds, p_now);
    EXCEPTION WHEN SQLSTATE 'PBCF0' OR SQLSTATE 'PBFB0' OR SQLSTATE 'PBNF0' THEN
        RETURN;
    END;
END;
$$;
