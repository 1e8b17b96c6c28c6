-- Narrower event rows (issue 18, item 2; docs/costs.md, "The fifth round").
--
-- A task event's outbox row copied its event into a JSON payload of about 250 bytes (the event's
-- id, kind, agent, attempt and detail, and the task's team, category and title), although the event
-- row beside it holds every one of those values and none of them ever changes. The row now names
-- its event (task_id, seq, as it always did) and keeps only what the event row cannot say: the
-- task's status after the change, for task.updated. The relay builds the payload when it gives the
-- row its stream entry id (phoenix.outbox_assign, sql/functions/50_outbox.sql), an update that
-- rewrote the whole row anyway, so the payload is written once instead of three times over the
-- row's life, and every entry in Redis carries the same payload as before.
--
-- An assigned row always has its payload (the check): the relay's pending list, re-publishing and
-- every reader after the assignment read it from the row, whatever retention later deletes.
ALTER TABLE phoenix.outbox
    ALTER COLUMN payload DROP NOT NULL,
    ADD COLUMN status phoenix.task_status,
    ADD CONSTRAINT outbox_payload_known CHECK (payload IS NOT NULL OR (seq IS NOT NULL AND stream_ms IS NULL));
