"""``python -m phoenix_board.harness.faults``: the fault runs (see scenarios.py)."""

from phoenix_board.harness.cli import faults_main

faults_main()
