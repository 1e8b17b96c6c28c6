-- Statements on phoenix.outbox (the event stream's source of truth; docs/concepts/event-stream.md).

-- name: outbox_try_lock
-- The relay's session lock: one relay publishes at a time (Redis accepts only growing ids).
SELECT pg_try_advisory_lock(%(key)s::bigint) AS locked;

-- name: outbox_unlock
-- Release it before closing: a closed connection's backend may hold it a moment longer.
SELECT pg_advisory_unlock(%(key)s::bigint) AS unlocked;

-- name: outbox_assign
-- Give committed, unassigned rows their stream entry ids (sql/functions/50_outbox.sql).
SELECT phoenix.outbox_assign(%(limit)s::integer, %(now)s::timestamptz) AS assigned;

-- name: outbox_pending
-- Rows with an entry id, not yet confirmed in Redis, in the order they must be XADDed per topic.
SELECT id, topic, task_id, seq, payload, at, stream_ms, stream_seq
  FROM phoenix.outbox
 WHERE published_at IS NULL AND stream_ms IS NOT NULL
 ORDER BY topic, stream_ms, stream_seq
 LIMIT %(limit)s::integer;

-- name: outbox_mark_published
-- Rows Redis now holds (added now, or refused as already there).
UPDATE phoenix.outbox SET published_at = coalesce(%(now)s::timestamptz, now())
 WHERE id = ANY(%(ids)s::bigint[]) AND published_at IS NULL;

-- name: outbox_reassign
-- Rows whose id Redis refused without holding the entry: they get a fresh, higher id next pass.
UPDATE phoenix.outbox SET stream_ms = NULL, stream_seq = NULL
 WHERE id = ANY(%(ids)s::bigint[]) AND published_at IS NULL;

-- name: outbox_published_head
-- The highest entry id of a topic that PostgreSQL believes Redis holds.
-- (published rows always have an id: the stream_ms condition is for the partial outbox_stream_idx)
SELECT stream_ms, stream_seq FROM phoenix.outbox
 WHERE topic = %(topic)s::text AND published_at IS NOT NULL AND stream_ms IS NOT NULL
 ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1;

-- name: outbox_republish_after
-- Redis lost a topic's tail (restart without the last writes): publish again whatever is above
-- what it still has, within the topic's retention.
UPDATE phoenix.outbox SET published_at = NULL
 WHERE topic = %(topic)s::text AND published_at IS NOT NULL
   AND (stream_ms, stream_seq) > (%(ms)s::bigint, %(seq)s::bigint)
   AND stream_ms >= %(since_ms)s::bigint;

-- name: outbox_prune
-- Published rows past their topic's retention, a batch at a time.
-- (by ctid: the rows found through outbox_stream_idx are deleted where they are, no key needed)
DELETE FROM phoenix.outbox WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM phoenix.outbox
     WHERE topic = %(topic)s::text AND published_at IS NOT NULL AND stream_ms < %(before_ms)s::bigint
     ORDER BY stream_ms LIMIT %(limit)s::integer));

-- name: outbox_lag
-- Committed events not yet in Redis, and the age of the oldest (the relay's lag; 0 when none).
SELECT count(*) AS unpublished,
       coalesce(greatest(extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - min(at)), 0), 0)::float8
           AS lag_seconds
  FROM phoenix.outbox WHERE published_at IS NULL;
