-- The federation's topology, as the seed names it (README "Partners and supervisors"):
--   paired_agents       partners, symmetric: B is in A's list exactly when A is in B's;
--   supervisor_agent    one supervisor at most; the relation is a forest (no cycle);
--   subordinate_agents  the agents whose supervisor this one is, kept in step with it.
-- The columns are written only by the board's functions (agent_pair, agent_unpair,
-- agent_supervise), which keep both sides in one transaction under both agents' row locks.

ALTER TABLE phoenix.agents
    ADD COLUMN paired_agents uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN supervisor_agent uuid REFERENCES phoenix.agents (id),
    ADD COLUMN subordinate_agents uuid[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT agents_not_own_supervisor CHECK (supervisor_agent IS DISTINCT FROM id),
    ADD CONSTRAINT agents_not_own_partner CHECK (NOT (id = ANY (paired_agents)));

CREATE INDEX agents_supervisor_idx ON phoenix.agents (supervisor_agent) WHERE supervisor_agent IS NOT NULL;
