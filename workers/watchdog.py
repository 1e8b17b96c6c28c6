"""The watchdog `up` starts first: it stops what `up` started when `up` dies without doing so.

Its standard input is the read end of a pipe whose write end only `up` holds (the descriptor is not
inheritable, so no other child keeps it open). A read returns end-of-file the moment `up` exits,
however it exits, ``kill -9`` included: no polling, nothing to miss. It then stops what the record
in the data directory still lists, if the record is still that `up`'s (a new `up` may have taken
the directory over and cleaned up already). It runs in its own session, so the Ctrl-C meant for
`up` does not reach it, and as ``python -P`` for the reason given in ``up.child_command``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from phoenix_board.workers import runstate

log = logging.getLogger("phoenix_board.watchdog")


def main(data_dir: str, parent: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s watchdog: %(message)s")
    log.info("watching up (pid %s) for %s", parent, data_dir)
    sys.stdin.buffer.read()  # returns at end-of-file only: up has exited
    record = runstate.read(Path(data_dir))
    if not record or record.get("pid") != parent:
        log.info("up (pid %s) exited and left nothing to stop", parent)
        return
    log.warning("up (pid %s) died; stopping what it left: agents first, servers last", parent)
    stopped = runstate.stop(record)
    log.warning("stopped %s", ", ".join(stopped) or "nothing (all had exited)")
    if record.get("pid") == (runstate.read(Path(data_dir)) or {}).get("pid"):
        runstate.forget(Path(data_dir))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
