"""Hostile arguments to the real command line: ``phoenix_board.cli.main`` in-process (click's
isolation captures its streams) for many generated cases, and a real subprocess for what only a
process can receive (argv bytes that are not UTF-8). Each exits 1 with one ``error:`` line, or 2
with click's usage error, never a traceback, and the database is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from phoenix_board import cli
from phoenix_board.board import constants
from tests.conftest import make_agent, make_task, snapshot
from tests import strategies as bad
from tests.conftest import assert_one_line


@pytest.fixture
def run(url, tmp_path):
    runner = CliRunner()
    env = {"PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    def invoke(*args: str) -> tuple[int, str]:
        with runner.isolation(env=env) as (_, err, _):
            try:
                cli.main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            sys.stderr.flush()  # a process flushes at exit; the captured stream needs telling
            return code, err.getvalue().decode("utf-8", "replace")

    return invoke


def assert_refused_cleanly(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    if code == 2:  # click's usage error: a usage line, a hint and the error, no traceback
        assert "Error" in stderr, stderr
        return
    assert code == 1, (code, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert_one_line(lines[0][len("error: "):])


# free text: what no text field stores; names and ids: SQL metacharacters too, which no name matches
strings = st.one_of(bad.unstorable_text, st.just(""))
names = st.one_of(strings, st.sampled_from(bad.SQL_METACHARACTERS))
json_texts = st.sampled_from([
    "[" * 10_000 + "]" * 10_000, '{"x": NaN}', '{"x": Infinity}', '{"x": 1e999}', '{"n": ' + "9" * 5000 + "}",
    '{"x": "\\u0000"}', '{"x": "\\ud800"}', '{"a": ' * 40 + "1" + "}" * 40, "{bad json", "", "[1, 2]",
    '{"x": "' + "y" * constants.PAYLOAD_MAX_BYTES + '"}',
])
numbers = st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", "99999999999999999999999", "9" * 5000, "abc", ""])


@st.composite
def hostile_commands(draw: st.DrawFn, task: str) -> list[str]:
    submit = ["submit", "--title", "t", "--team", "iota"]
    claim = [task, "--agent", "fuzz-worker", "--attempt", "1"]
    cases = {
        "title": lambda: ["submit", "--title", draw(st.one_of(strings, bad.text_over(constants.TITLE_MAX))), "--team", "iota"],
        "team": lambda: ["submit", "--title", "t", "--team", draw(st.one_of(names, bad.unknown_team, st.just("Upper")))],
        "payload": lambda: [*submit, "--payload", draw(json_texts)],
        "number": lambda: [*submit, draw(st.sampled_from(["--priority", "--reward", "--size", "--max-attempts",
                                                          "--review-quorum"])), draw(numbers.filter(lambda n: n != "0"))],
        "deadline": lambda: [*submit, "--deadline", draw(st.one_of(strings, st.sampled_from(
            ["+99999999999999d", "+1e5d", "2001-01-01T00:00:00Z", "2030-01-01T00:00:00", "-1h"])))],
        "depends_on": lambda: [*submit, "--depends-on", draw(st.one_of(names, st.just(str(uuid.uuid4()))))],
        "key": lambda: [*submit, "--key", draw(st.one_of(strings, bad.text_over(constants.IDEMPOTENCY_KEY_MAX)))],
        "show": lambda: ["show", draw(st.one_of(names, st.just(str(uuid.uuid4()))))],
        "vote": lambda: ["vote", task, draw(st.one_of(names, st.sampled_from(["2", "+2", "nan", "1.0"]))),
                         "--agent", "fuzz-worker"],
        "agent": lambda: ["vote", task, "up", "--agent", draw(st.one_of(names, st.just("nobody"), bad.text_over(200)))],
        "comment": lambda: ["comment", task, draw(st.one_of(strings, bad.text_over(constants.COMMENT_MAX))),
                            "--agent", "fuzz-worker"],
        "reply": lambda: ["comment", task, "hi", "--agent", "fuzz-worker", "--reply-to",
                          draw(st.one_of(names.filter(bool), st.just(str(uuid.uuid4()))))],
        "claim": lambda: ["task", "claim", "--agent", "fuzz-worker", "--lease", draw(numbers)],
        "attempt": lambda: ["task", "start", task, "--agent", "fuzz-worker", "--attempt", draw(numbers)],
        "output": lambda: ["task", "result", *claim, "--output", draw(json_texts)],
        "quality": lambda: ["task", "result", *claim, "--quality", draw(numbers)],
        "reason": lambda: ["task", "fail", *claim, "--reason", draw(st.one_of(strings, bad.text_over(constants.REASON_MAX)))],
        "verdict": lambda: ["task", "review", task, "--agent", "fuzz-worker", "--verdict", draw(names)],
        "cursor": lambda: ["board", "--cursor", draw(st.one_of(names.filter(bool), st.text(min_size=1)))],
        "listing": lambda: ["board", draw(st.sampled_from(["--team", "--limit", "--sort", "--status"])),
                            draw(st.one_of(names, numbers))],
        "register": lambda: ["agents", "register", draw(st.one_of(names, st.just("a" * 101))), "--team", "iota"],
    }
    return cases[draw(st.sampled_from(sorted(cases)))]()


@pytest.fixture
def board(db):
    author = make_agent(db, team="iota", codename="fuzz-author")
    make_agent(db, team="iota", codename="fuzz-worker")
    return make_task(db, team="iota", created_by=author.id)


@pytest.mark.slow
@bad.fuzz_settings(120)
@given(data=st.data())
def test_hostile_arguments_exit_cleanly_and_write_nothing(run, sql, board, data):
    args = data.draw(hostile_commands(str(board.id)))
    # on an empty --team filter the board lists nothing and exits 0: that is not a refusal
    if args[:2] == ["board", "--team"] and args[2] and args[2].isidentifier() and args[2].islower():
        args = ["board", "--limit", "0"]
    before = snapshot(sql)
    code, stderr = run(*args)
    assert_refused_cleanly(code, stderr)
    assert snapshot(sql) == before


@pytest.mark.parametrize("args", [
    [b"submit", b"--title", b"\xff\xfe bad bytes", b"--team", b"iota"],
    [b"agents", b"register", b"caf\xe9", b"--team", b"iota"],
    [b"submit", b"--title", b"t", b"--team", b"iota", b"--payload", b"[" * 10_000 + b"]" * 10_000],
])
def test_a_real_process_refuses_bytes_that_are_not_utf8(url, sql, tmp_path, args):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data")}
    before = snapshot(sql)
    proc = subprocess.run([sys.executable.encode(), b"-m", b"phoenix_board.cli", *args], capture_output=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert_refused_cleanly(proc.returncode, proc.stderr.decode("utf-8", "replace"))
    assert proc.returncode == 1
    assert snapshot(sql) == before
