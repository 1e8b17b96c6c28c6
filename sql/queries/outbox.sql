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
SELECT u.id, u.topic, u.task_id, u.seq, u.payload, u.at, u.stream_ms, u.stream_seq
  FROM unnest(phoenix.k_outbox_topics()) AS tp (topic)
 CROSS JOIN LATERAL phoenix.outbox_unpublished(tp.topic, %(limit)s::integer) AS u
 ORDER BY u.topic, u.stream_ms, u.stream_seq
 LIMIT %(limit)s::integer;

-- name: outbox_mark_published
-- Rows Redis now holds (added now, or refused as already there), by entry id (the stream index).
-- published_at is in no index, so this is a HOT update: the row changes in place (migration 0034).
UPDATE phoenix.outbox o SET published_at = coalesce(%(now)s::timestamptz, now())
  FROM unnest(%(topics)s::text[], %(ms)s::bigint[], %(seqs)s::bigint[]) AS m (topic, ms, seq)
 WHERE o.topic = m.topic AND o.stream_ms = m.ms AND o.stream_seq = m.seq AND o.published_at IS NULL;

-- name: outbox_reassign
-- Rows whose id Redis refused without holding the entry: they get a fresh, higher id next pass.
UPDATE phoenix.outbox o SET stream_ms = NULL, stream_seq = NULL
  FROM unnest(%(topics)s::text[], %(ms)s::bigint[], %(seqs)s::bigint[]) AS m (topic, ms, seq)
 WHERE o.topic = m.topic AND o.stream_ms = m.ms AND o.stream_seq = m.seq AND o.published_at IS NULL;

-- name: outbox_published_head
-- The highest entry id of a topic that PostgreSQL believes Redis holds.
SELECT stream_ms, stream_seq FROM phoenix.outbox_published_head(%(topic)s::text);

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
-- Committed events not yet in Redis, and the age of the oldest (the relay's lag; 0 when none):
-- the rows waiting for an entry id, and each topic's rows above its published head.
SELECT count(*) AS unpublished,
       coalesce(greatest(extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - min(w.at)), 0), 0)::float8
           AS lag_seconds
  FROM (SELECT at FROM phoenix.outbox WHERE stream_ms IS NULL
        UNION ALL
        SELECT u.at FROM unnest(phoenix.k_outbox_topics()) AS tp (topic)
         CROSS JOIN LATERAL phoenix.outbox_unpublished(tp.topic, NULL) AS u) AS w;
