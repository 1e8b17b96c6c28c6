-- Whom to wake (docs/operations/running-agents.md): how much work agents of a team could claim now,
-- read by the idle poller and the beat, so that no task or review waits on a message.

-- name: tasks_claimable_count
-- How many tasks of a team are claimable now (capped: the poller only needs "how many to wake").
SELECT phoenix.tasks_claimable_count(%(team)s::text, 64) AS n;

-- name: reviews_claimable_count
-- How many reviews a team's live agents could claim now (capped): the idle poller wakes agents for them.
SELECT phoenix.reviews_claimable_count(%(team)s::text, 64) AS n;

-- name: teams_with_claimable_work
-- Teams that have a claimable task, or a review their live agents could claim, now (the sweeper
-- wakes their agents). A team a gate holds back (paused, out of budget, at its rate) has no
-- claimable task, as for the idle poller's count (tasks_claimable_count): waking its agents every
-- sweep would only have them ask and be refused.
SELECT name AS team FROM phoenix.teams t
 WHERE (EXISTS (SELECT 1 FROM phoenix.tasks
                 WHERE team = t.name AND status = 'open' AND pending_deps = 0
                   AND available_at <= coalesce(%(now)s::timestamptz, now()))
        AND NOT EXISTS (SELECT 1 FROM phoenix.claim_gates g
                         WHERE g.scope_kind = 'team' AND g.scope = t.name
                           AND phoenix.gate_blocked(g, coalesce(%(now)s::timestamptz, now())) IS NOT NULL))
    OR phoenix.reviews_claimable_count(t.name, 1) > 0;
