"""Pure Python: relative times (freezegun), input validation, one-line errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from phoenix_board.board import constants, errors, models
from phoenix_board.cli import render


@freeze_time("2026-11-24 10:00:00", tz_offset=0)
def test_parse_when_relative_is_from_now():
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert render.parse_when("+30m") == now + timedelta(minutes=30)
    assert render.parse_when("+2h") == now + timedelta(hours=2)
    assert render.parse_when("+1.5d") == now + timedelta(hours=36)
    assert render.parse_when("2026-12-01T12:00:00Z") == datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_parse_when_refuses_ambiguous_times():
    with pytest.raises(errors.InvalidInput, match="no time zone"):
        render.parse_when("2026-12-01T12:00:00")
    with pytest.raises(errors.InvalidInput, match="neither"):
        render.parse_when("soon")


@freeze_time("2026-11-24 10:00:00")
def test_ago_reads_the_clock():
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert render.ago(now - timedelta(seconds=12)) == "12s ago"
    assert render.ago(now - timedelta(minutes=5, seconds=3)) == "5m ago"
    assert render.ago(now + timedelta(hours=3)) == "in 3h"
    assert render.ago(now - timedelta(days=2, hours=1)) == "2d ago"
    assert render.ago(None) == "-"


def test_submit_validation_messages_are_one_line():
    with pytest.raises(errors.InvalidInput) as exc:
        models.parse(models.TaskSubmit, {"title": "", "team": "Bad Team", "priority": 11, "fibonacci_size": 4})
    assert "\n" not in exc.value.message and "title" in exc.value.message and "and 1 more" in exc.value.message


@pytest.mark.parametrize("payload,fragment", [
    ({"x": float("nan")}, "NaN"),
    ({"x": float("inf")}, "NaN or infinity"),
    ({"x": "a" * (constants.PAYLOAD_MAX_BYTES + 1)}, "at most"),
    ({"x": "\x00"}, "NUL"),
    ([1, 2], "object"),
])
def test_payload_limits(payload, fragment):
    with pytest.raises(errors.InvalidInput, match=fragment):
        models.parse(models.TaskSubmit, {"title": "t", "team": "iota", "payload": payload})


def test_deeply_nested_payload_is_refused_not_crashing():
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(errors.InvalidInput):
        models.parse(models.TaskSubmit, {"title": "t", "team": "iota", "payload": deep})


def test_naive_deadline_is_refused():
    with pytest.raises(errors.InvalidInput, match="time zone"):
        models.parse(models.TaskSubmit, {"title": "t", "team": "iota", "deadline": datetime(2030, 1, 1)})


@given(st.one_of(st.text(max_size=50), st.integers(), st.floats(), st.none(), st.lists(st.integers(), max_size=3)))
def test_uuid_arg_accepts_only_uuids(value):
    try:
        models.uuid_arg(value, "task")
    except errors.InvalidInput as exc:
        assert exc.message.startswith("task ") and "\n" not in exc.message


@given(st.dictionaries(st.sampled_from(["title", "team", "priority", "payload", "depends_on", "deadline",
                                        "fibonacci_size", "dopamine_reward", "nonsense"]),
                       st.one_of(st.text(max_size=300), st.integers(), st.floats(), st.none(),
                                 st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.floats()))))
def test_any_submit_input_validates_or_raises_one_line(data):
    try:
        spec = models.parse(models.TaskSubmit, data)
    except errors.InvalidInput as exc:
        assert "\n" not in exc.message and exc.message
    else:
        assert 1 <= len(spec.title) <= constants.TITLE_MAX
        assert math.isfinite(spec.dopamine_reward)
