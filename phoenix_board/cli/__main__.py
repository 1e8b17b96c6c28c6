"""``python -m phoenix_board.cli``: how `up`, the tests and the benchmarks start a part of the board."""

from phoenix_board.cli import main

main()
