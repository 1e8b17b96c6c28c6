"""`status` and `down` find a recorded group's processes among all of the machine's
(workers/runstate.py members): one that ends between the listing and the look at its group is no
member, where it made `status` end in a traceback (seen when `up`'s pools were stopping)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from phoenix_board.workers import runstate


def test_a_process_that_ended_since_the_listing_is_no_member(monkeypatch):
    leader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    listed = [psutil.Process(leader.pid), psutil.Process(gone.pid)]
    gone.wait()  # ended and reaped: its pid is looked up after the listing, as in the race
    try:
        monkeypatch.setattr(psutil, "process_iter", lambda: iter(listed))
        assert runstate.members({"pid": os.getpgid(leader.pid), "group": True}) == [leader.pid]
    finally:
        leader.kill()
        leader.wait()
