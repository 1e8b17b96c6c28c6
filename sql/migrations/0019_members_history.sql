-- People who take part (issue 16; docs/concepts/review.md#members), a task that asks for a person's
-- verdict, the agents' history for charts, and the oldest claimable task per team.

-- A member is a row of phoenix.agents with kind 'member': votes, comments, reviews, trust and the
-- audit chain reuse every rule written for agents, and a member never claims (task_claim and the
-- review claim refuse it; board/members.py). Agents' counts, liveness, pools, wake-ups and
-- consciousness read kind = 'agent' only.
ALTER TABLE phoenix.agents
    ADD COLUMN kind text NOT NULL DEFAULT 'agent' CONSTRAINT agents_kind CHECK (kind IN ('agent', 'member'));

-- A member signs in to the API with a token of its own (api/tokens.py).
ALTER TABLE phoenix.api_tokens DROP CONSTRAINT api_tokens_kind;
ALTER TABLE phoenix.api_tokens DROP CONSTRAINT api_tokens_agent;
ALTER TABLE phoenix.api_tokens
    ADD CONSTRAINT api_tokens_kind CHECK (kind IN ('agent', 'member', 'operator', 'reader')),
    ADD CONSTRAINT api_tokens_agent CHECK ((kind IN ('agent', 'member')) = (agent_id IS NOT NULL));

-- A task that asks for a person's verdict: its review quorum is not met without a member's.
ALTER TABLE phoenix.tasks ADD COLUMN needs_person boolean NOT NULL DEFAULT false;
-- members.waiting(): tasks in review that still wait for a person (a handful, whatever the board's size)
CREATE INDEX tasks_needs_person_idx ON phoenix.tasks (review_since, id) WHERE status = 'review' AND needs_person;
-- task_submit gains p_needs_person (sql/functions/20_task_submit.sql makes the new one)
DROP FUNCTION IF EXISTS phoenix.task_submit(
    text, text, text, jsonb, integer, text, uuid, real, integer, integer, uuid[], timestamptz, integer, text, timestamptz);

-- The console's and /metrics' age of the oldest claimable task per team: min(available_at) of a
-- team's claimable rows is one probe here. tasks_claim_idx is ordered by the claim key, which
-- boosts priority and hot tasks ahead, so its first row is not the one that waited longest.
CREATE INDEX tasks_claimable_age_idx ON phoenix.tasks (team, available_at) WHERE status = 'open' AND pending_deps = 0;

-- The agents' hormones and trust over time (board/history.py): the beat's agent_history job
-- samples agents in service into one row per agent and tick, and deletes rows past the retention.
-- Sampled rather than written on every change: the claim, result and review paths stay as they
-- are (no extra row in their transactions), and a chart needs points at a steady rate anyway.
-- The key is the tick, so a second beat writes nothing.
CREATE TABLE phoenix.agent_history (
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    at timestamptz NOT NULL,
    dopamine real NOT NULL,
    oxytocin real NOT NULL,
    adrenaline real NOT NULL,
    cortisol real NOT NULL,
    trust real NOT NULL,
    PRIMARY KEY (agent_id, at)
);
-- the retention's delete reads by time
CREATE INDEX agent_history_at_idx ON phoenix.agent_history USING brin (at);
