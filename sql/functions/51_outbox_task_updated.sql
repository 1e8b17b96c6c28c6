-- task.updated: one outbox row per change of a task after its submission, with the task's status
-- after it (the API's taskUpdated subscription and createTask's wait; api/subscriptions.py). The
-- submission itself is task.created's: a second row for it would double the outbox of every
-- submit for nothing a follower needs. The status is read from the task row, which the lifecycle
-- function has updated before it appends the event.
CREATE OR REPLACE FUNCTION phoenix.outbox_task_updated() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO phoenix.outbox (topic, task_id, seq, payload, at)
    SELECT 'task.updated', NEW.task_id, NEW.seq,
           jsonb_build_object('task_event_id', NEW.id, 'kind', NEW.kind, 'status', t.status, 'agent_id', NEW.agent_id,
                              'attempt', NEW.attempt, 'team', t.team, 'category', t.category, 'title', t.title),
           NEW.at
      FROM phoenix.tasks t WHERE t.id = NEW.task_id;
    RETURN NULL;
END;
$f$;

CREATE OR REPLACE TRIGGER task_events_outbox_updated AFTER INSERT ON phoenix.task_events
    FOR EACH ROW WHEN (NEW.kind <> 'submitted') EXECUTE FUNCTION phoenix.outbox_task_updated();
