"""Whose CPU a timed run spent, by part: this process, the database server's backends, a worker's
process tree, the broker. ``bench board`` and ``bench e2e`` report it per task.

On a machine where all the parts share the cores, a throughput ratio between two kinds of work is
about the inverse ratio of the CPU each spends per task, so these figures say *why* a ratio is what
it is, and which part's cost sets it.

Each part is read from ``/proc`` through psutil, so only what runs on this host can be read: the
database server's backends where the server is local (the embedded one, or one reached over a Unix
socket or loopback), the broker where it is the embedded Valkey. A part that cannot be read is
``None``, never a guess. A part is read per process: a process that started during the run counts
from its start, one that ended during it loses what it spent after the first reading (a pool's
children are long-lived; a child reaped by its parent is counted through the parent's totals).
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable, Mapping

import psutil

from phoenix_board.board.db import Database

Sample = dict[str, float]  # process key -> CPU seconds spent so far
Reading = dict[str, Sample | None]  # part -> its sample, None where it cannot be read
Part = Callable[[], Sample | None]


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def this_process() -> Sample:
    """Every thread of this process, user and system."""
    return {"self": time.process_time()}


def process_tree(pid: int | None) -> Part:
    """A process and its descendants (a worker pool; the broker and the children it forks to save),
    with the children it has reaped; None when there is no such process or it went away."""
    def read() -> Sample | None:
        if pid is None:
            return None
        try:
            root = psutil.Process(pid)
            times = root.cpu_times()
            sample = {"reaped": times.children_user + times.children_system, str(pid): times.user + times.system}
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):  # it ended while being read
                    sample[str(child.pid)] = _seconds(child)
            return sample
        except psutil.Error:
            return None
    return read


def server_backends(db: Database, application_name: str | None = None) -> Part:
    """The server processes connected to ``db``'s database (only those of ``application_name``,
    if given), read where the server runs on this host; None elsewhere."""
    def read() -> Sample | None:
        row = db.one("bench_backends", application_name=application_name)
        address = row["server_address"]
        if address is not None and not ipaddress.ip_address(address).is_loopback:
            return None  # a server on another host: its processes are not ours to read
        sample = {}
        for pid in row["pids"]:
            try:
                backend = psutil.Process(pid)
                if not backend.name().startswith("postgres"):
                    return None  # the pid is another program's: the server runs in another pid namespace
                sample[str(pid)] = _seconds(backend)
            except psutil.NoSuchProcess:
                continue  # a backend that ended between the query and the read
            except psutil.Error:
                return None
        return sample
    return read


class Meter:
    """Reads the CPU seconds spent so far by each of its parts."""

    def __init__(self, parts: Mapping[str, Part]) -> None:
        self.parts = dict(parts)

    def read(self) -> Reading:
        return {name: part() for name, part in self.parts.items()}


def spent(before: Reading, after: Reading) -> dict[str, float | None]:
    """CPU seconds per part between two readings: each process's growth, counted from zero for a
    process the first reading did not have; None for a part either reading could not read."""
    out: dict[str, float | None] = {}
    for name, end in after.items():
        start = before.get(name)
        if start is None or end is None:
            out[name] = None
        else:
            out[name] = sum(max(0.0, seconds - start.get(key, 0.0)) for key, seconds in end.items())
    return out


def per_task_ms(cpu: Mapping[str, float | None], tasks: int) -> dict[str, float | None]:
    """Milliseconds of CPU per task, per part (None where unread, or no task finished)."""
    return {name: None if seconds is None or not tasks else round(seconds / tasks * 1000, 3)
            for name, seconds in cpu.items()}


def ratio(subject_ms: Mapping[str, float | None], baseline_ms: Mapping[str, float | None]) -> float | None:
    """The baseline's CPU per task over the subject's, all parts together: where every part shares
    the cores, about what the subject's throughput over the baseline's can be. None when a part
    could not be read (a ratio that left it out would flatter one side) or the subject spent none."""
    values = (*subject_ms.values(), *baseline_ms.values())
    if not subject_ms or not baseline_ms or any(v is None for v in values):
        return None
    subject = sum(v for v in subject_ms.values() if v is not None)
    return round(sum(v for v in baseline_ms.values() if v is not None) / subject, 3) if subject else None
