-- Statements for a streaming replica's delay (board/replica.py).

-- name: wal_position
-- On the primary: where its write-ahead log is now.
SELECT pg_current_wal_lsn()::text AS lsn;

-- name: replica_replay
-- On the replica: bytes of the primary's log (up to the given position) not yet replayed, and
-- seconds since the last transaction it replayed. NULL bytes when the server is not a replica.
SELECT pg_is_in_recovery() AS in_recovery,
       pg_wal_lsn_diff(%(lsn)s::pg_lsn, pg_last_wal_replay_lsn()) AS behind_bytes,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay;
