"""How far a streaming replica is behind its primary (docs/operations/read-replicas.md).

Commands that only read may use a replica (``PHOENIX_DATABASE_READ_URL``); the exporter serves its
delay. Bytes: the primary's current WAL position minus the replica's replayed one. Seconds: 0 when
the replica has replayed everything the primary had written when asked, else the age of the last
transaction it replayed; a replica whose receiver is cut off keeps growing in both, where the
common "received = replayed" test would read 0.
"""

from __future__ import annotations

from phoenix_board.board.db import Database


def lag(primary: Database, replica: Database) -> tuple[float, float]:
    """(seconds, bytes) the replica is behind; the primary's position is read first, so a replica
    that catches up meanwhile reads 0, never a negative figure."""
    position = primary.one("wal_position")["lsn"]
    row = replica.one("replica_replay", lsn=position)
    behind = float(row["behind_bytes"] or 0)
    if behind <= 0:
        return 0.0, 0.0
    return max(float(row["since_replay"] or 0), 0.0), behind
