-- `agents show` lists the tasks an agent claimed, completed and failed from the task history:
-- an index by agent keeps that one agent's rows, newest first, instead of a scan of every event.
CREATE INDEX task_events_agent_idx ON phoenix.task_events (agent_id, at DESC) WHERE agent_id IS NOT NULL;
