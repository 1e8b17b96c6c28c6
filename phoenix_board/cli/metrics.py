"""`phoenix-board metrics`: the Prometheus exporter."""

from __future__ import annotations

import signal
import threading
from typing import Optional

import typer

from phoenix_board.board import errors
from phoenix_board.board.session import open_board, open_replica
from phoenix_board.cli import render, toolkit
from phoenix_board.metrics import exporter


def metrics(port: Optional[int] = typer.Option(None, "--port", "-p", help="Default PHOENIX_METRICS_PORT (9464)."),
            addr: str = typer.Option("0.0.0.0", "--addr")) -> None:
    """Serve /metrics for Prometheus until stopped."""
    s = toolkit.settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # read-only (docs/concepts/security.md); board figures from the replica when one is set
    with open_board(s, max_size=2, role="monitor", wait_for_schema=True) as db, \
            open_replica(s, max_size=2, role="monitor") as replica:
        try:
            server, _ = exporter.serve(db, s, port or s.metrics_port, addr, replica=replica)
        except OSError as exc:
            raise errors.Unavailable(f"cannot listen on {addr}:{port or s.metrics_port}: {exc.strerror}") from None
        render.console.print(f"serving /metrics on {addr}:{port or s.metrics_port}")
        stop.wait()
        server.shutdown()
