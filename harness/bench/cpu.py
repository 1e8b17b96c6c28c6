"""Whose CPU a timed run spent: this process's and the database server's, for ``bench board``.

On a machine where the bench and PostgreSQL share the cores, a throughput ratio between two kinds
of work is the inverse ratio of the CPU each spends per task, so these figures say *why* a ratio
is what it is: how much of a task's cost is the server's and how much the client's.

**The server's share** is read from ``/proc`` (through psutil) for the backends of the bench's own
pool, found by their ``application_name``. That works only where the server runs on this host
(the embedded server, or one reached over a Unix socket or loopback); anywhere else the figure is
``None``, never a guess. A backend that went away during the run (a pool that replaced a
connection) also makes it ``None``: a sum over fewer backends would understate it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time

import psutil

from phoenix_board.board.db import Database


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclasses.dataclass(frozen=True)
class Reading:
    client: float
    server: float | None


class Meter:
    """Reads the CPU seconds spent so far by this process and by the pool's server backends."""

    def __init__(self, db: Database, application_name: str) -> None:
        self.backends = self._local_backends(db, application_name)

    @staticmethod
    def _local_backends(db: Database, application_name: str) -> list[psutil.Process] | None:
        row = db.one("bench_backends", application_name=application_name)
        address = row["server_address"]
        if address is not None and not ipaddress.ip_address(address).is_loopback:
            return None  # a server on another host: its processes are not ours to read
        backends = []
        for pid in row["pids"]:
            try:
                process = psutil.Process(pid)
                if not process.name().startswith("postgres"):
                    return None  # the pid is another program's: the server runs in another pid namespace
                backends.append(process)
            except psutil.Error:
                return None
        return backends or None

    def read(self) -> Reading:
        client = time.process_time()  # every thread of this process, user and system
        if self.backends is None:
            return Reading(client, None)
        try:
            return Reading(client, sum(_cpu_seconds(p) for p in self.backends))
        except psutil.Error:
            return Reading(client, None)


def spent(before: Reading, after: Reading) -> Reading:
    """CPU seconds between two readings; the server's is None unless both had it."""
    server = None if before.server is None or after.server is None else after.server - before.server
    return Reading(after.client - before.client, server)
