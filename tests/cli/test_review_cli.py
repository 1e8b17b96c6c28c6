"""The command line warns at submission when a review quorum cannot be met (docs/concepts/review.md)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import js


@pytest.mark.slow
def test_submit_warns_in_one_line_when_the_quorum_cannot_be_met(run):  # noqa: F811
    run("agents", "register", "only-1", "--team", "iota")
    run("agents", "register", "only-2", "--team", "iota")
    short = run("submit", "--title", "needs two", "--team", "iota", "--category", "noop",
                "--review-quorum", "2", "--json")
    assert js(short)["created"]  # accepted: the pool widens later
    lines = short.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "only 1 live agent(s)" in lines[0], short.stderr
    met = run("submit", "--title", "needs one", "--team", "iota", "--category", "noop", "--review-quorum", "1")
    assert "warning" not in met.stderr
