-- One live process per agent (README "Agents are held by one process"): the pool that attached to
-- an agent holds it with a token of its own, renewed by its heartbeat and freed on a clean exit;
-- the hold lapses ACTIVE_AGENT_SECONDS after the last heartbeat, the window in which an agent
-- counts as live. Another process attaching while the hold is live is refused, so two pools (on
-- one host or on two hosts with the same name) never share an agent.
ALTER TABLE phoenix.agents ADD COLUMN holder uuid;

-- New signatures (the holder token); sql/functions/29_agents.sql creates them after this file.
DROP FUNCTION IF EXISTS phoenix.agent_register(text, text, text, text[], timestamptz);
DROP FUNCTION IF EXISTS phoenix.agent_heartbeat(uuid, timestamptz);
