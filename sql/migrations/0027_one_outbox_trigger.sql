-- Less CPU per task (issue 18, item 2; docs/costs.md has the figures).
--
-- A task event's outbox rows were written by two triggers: task_events_outbox (task.created,
-- task.completed; sql/functions/50_outbox.sql) and task_events_outbox_updated (task.updated; the
-- former 51_outbox_task_updated.sql). A completion fired both: two trigger calls, two reads of the
-- task row, two INSERT statements. One trigger now writes every row of an event in one statement
-- (the same rows, topics, payloads and id order). It is created here, in the same transaction as
-- the old trigger's drop, so that no event committed during an upgrade misses its task.updated
-- row; 50_outbox.sql holds the same definition and is re-applied after the migrations.
CREATE OR REPLACE FUNCTION phoenix.outbox_task_event() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO phoenix.outbox (topic, task_id, seq, payload, at)
    SELECT r.topic, NEW.task_id, NEW.seq, r.payload, NEW.at
      FROM phoenix.tasks t
     CROSS JOIN LATERAL (VALUES
         (1, CASE NEW.kind WHEN 'submitted' THEN 'task.created' WHEN 'completed' THEN 'task.completed' END,
          jsonb_build_object('task_event_id', NEW.id, 'kind', NEW.kind, 'agent_id', NEW.agent_id,
                             'attempt', NEW.attempt, 'team', t.team, 'category', t.category, 'title', t.title,
                             'detail', NEW.detail)),
         (2, CASE WHEN NEW.kind <> 'submitted' THEN 'task.updated' END,
          jsonb_build_object('task_event_id', NEW.id, 'kind', NEW.kind, 'status', t.status, 'agent_id', NEW.agent_id,
                             'attempt', NEW.attempt, 'team', t.team, 'category', t.category, 'title', t.title))
         ) AS r (n, topic, payload)
     WHERE t.id = NEW.task_id AND r.topic IS NOT NULL
     ORDER BY r.n;
    RETURN NULL;
END;
$f$;

CREATE OR REPLACE TRIGGER task_events_outbox AFTER INSERT ON phoenix.task_events
    FOR EACH ROW EXECUTE FUNCTION phoenix.outbox_task_event();

DROP TRIGGER IF EXISTS task_events_outbox_updated ON phoenix.task_events;
DROP FUNCTION IF EXISTS phoenix.outbox_task_updated();
