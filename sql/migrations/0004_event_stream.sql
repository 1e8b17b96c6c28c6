-- The event stream's transactional outbox (README "Event stream").
--
-- A row is written in the same transaction as the fact it reports (triggers in
-- sql/functions/50_outbox.sql), so a rolled-back transaction leaves nothing to publish. The relay
-- gives each committed row its Redis stream entry id (stream_ms, stream_seq) only once the row is
-- visible to it, i.e. committed: ids are therefore handed out in commit-visibility order, never in
-- the order of `id` (which writers take before they commit, out of order). The id is stored before
-- the XADD, so a relay restarted after publishing sends the same id again and Redis refuses it.
-- agent.heartbeat is not here: it is published straight to Redis (not a transactional fact).

CREATE TABLE phoenix.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic text NOT NULL CONSTRAINT outbox_topic CHECK (
        topic IN ('task.created', 'task.completed', 'consciousness.update', 'hormone.cascade')),
    task_id uuid,                 -- task.* only
    seq integer,                  -- the task's event sequence number (task_events.seq), task.* only
    payload jsonb NOT NULL,
    at timestamptz NOT NULL,
    -- the entry id <stream_ms>-<stream_seq>, set by the relay when it first sees the row committed
    stream_ms bigint,
    stream_seq bigint,
    published_at timestamptz,
    CONSTRAINT outbox_stream_id CHECK ((stream_ms IS NULL) = (stream_seq IS NULL)),
    CONSTRAINT outbox_published_assigned CHECK (published_at IS NULL OR stream_ms IS NOT NULL)
);

-- the relay's work list and the lag metric: rows not yet published, oldest first
CREATE INDEX outbox_unpublished_idx ON phoenix.outbox (id) WHERE published_at IS NULL;
-- the last id handed out per topic (assignment), the re-publish after a Redis loss, pruning
CREATE UNIQUE INDEX outbox_stream_idx ON phoenix.outbox (topic, stream_ms, stream_seq);
