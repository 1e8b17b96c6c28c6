"""A handler module for tests/workers/test_harness_boundary.py, loaded through
PHOENIX_HANDLER_MODULES: its task reports what the agent process has loaded."""

from __future__ import annotations

import sys

from phoenix_board.workers import handlers


@handlers.handler("loaded_modules")
def loaded_modules(task, context) -> handlers.Result:
    return handlers.Result({"harness": sorted(m for m in sys.modules if m.startswith("phoenix_board.harness")),
                            "categories": handlers.categories()})
