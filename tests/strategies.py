"""Hostile values for the fuzz suite, one strategy per kind of argument.

Every strategy here yields only values the board must refuse for that argument, so a test can
corrupt one argument of an otherwise valid call and expect a refusal. ``PHOENIX_FUZZ_EXAMPLES``
multiplies every test's example count (for example 20 for a long run).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from phoenix_board.board import constants

SCALE = max(1, int(os.environ.get("PHOENIX_FUZZ_EXAMPLES", "1")))


def fuzz_settings(examples: int):
    """Examples share the test's one database (nothing they do may change it), so the
    function-scoped fixture health check does not apply; no deadline, database calls vary."""
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def nested(levels: int, leaf: Any = 1) -> Any:
    """A JSON value nested ``levels`` deep, built without recursion (alternating arrays and objects)."""
    value = leaf
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


SQL_METACHARACTERS = [
    "'; DROP TABLE phoenix.tasks; --",
    "' OR '1'='1",
    "$$; DROP SCHEMA phoenix CASCADE; $$",
    "\\",
    "%s",
    "%(title)s",
    "{}",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udcff",  # what surrogateescape makes of the invalid UTF-8 byte 0xff
    "\udfff\ud800",
]
# text that no text field accepts: PostgreSQL cannot store NUL, UTF-8 cannot encode lone surrogates
unstorable_text = st.one_of(
    st.sampled_from([s for s in SQL_METACHARACTERS if "\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s)]),
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=20), st.text(max_size=20)),
    st.builds(lambda a, c: a + chr(c), st.text(max_size=20), st.integers(0xD800, 0xDFFF)),
)
BAD_NUMBERS = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -1, 2**63, -(2**63), 2**64, 10**400]
not_a_string = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.none(), st.binary(max_size=10),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([10**5000, b"\xff\xfe", {1, 2}, object()]),
)
non_integers = st.one_of(
    st.sampled_from([float("nan"), float("inf"), 1.5, 1.0, True, False, "1", "5", None, b"1", [1], 10**5000]),
    st.floats(allow_nan=True),
    st.text(max_size=5),
)


def text_over(limit: int) -> st.SearchStrategy[str]:
    """Valid text just over a limit, or far over it (a megabyte)."""
    return st.one_of(st.sampled_from([limit + 1, limit * 2, 1_000_000]).map(lambda n: "x" * n),
                     st.text(min_size=1, max_size=4).map(lambda s: s * (limit // len(s) + 1)))


def bad_text(limit: int, empty_ok: bool = False) -> st.SearchStrategy[Any]:
    """Anything a text field of at most ``limit`` characters must refuse."""
    parts = [unstorable_text, text_over(limit), not_a_string]
    if not empty_ok:
        parts.append(st.just(""))
    return st.one_of(*parts)


def bad_pattern(allowed: str, valid: str) -> st.SearchStrategy[Any]:
    """Names that break a name pattern (team, category, codename): metacharacters, case, length.
    ``valid`` is the pattern's regex: a candidate that happens to match it is not bad input."""
    return st.one_of(
        st.sampled_from(SQL_METACHARACTERS + ["", " ", "Upper", "9lives", "a b", "a" * 300, "é"]),
        st.text(min_size=1, max_size=20).filter(lambda s: any(c not in allowed for c in s)),
        not_a_string,
    ).filter(lambda s: not (isinstance(s, str) and re.fullmatch(valid, s)))


LOWER = "abcdefghijklmnopqrstuvwxyz0123456789_"
bad_team = bad_pattern(LOWER, r"[a-z][a-z0-9_]{0,62}")
bad_category = bad_pattern(LOWER + ".-", r"[a-z][a-z0-9_.-]{0,62}")
bad_codename = bad_pattern("ABCDEFGHIJKLMNOPQRSTUVWXYZ" + LOWER + ".:@-", r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}")
unknown_team = st.from_regex(r"\Anowhere_[a-z0-9_]{1,20}\Z")

unknown_ids = st.one_of(st.uuids(), st.just(uuid.UUID(int=0)), st.just(uuid.UUID(int=2**128 - 1)))
bad_ids = st.one_of(
    st.sampled_from(SQL_METACHARACTERS + ["", "not-a-uuid", "00000000-0000-0000-0000-00000000000g",
                                           "00000000-0000-0000-0000-000000000000'; --"]),
    st.text(max_size=40),
    st.integers(), st.floats(), st.booleans(), st.none(),
    st.binary(max_size=15),  # pydantic reads 16 bytes as a UUID
    st.lists(st.uuids(), max_size=2), st.sampled_from([10**5000, {"id": 1}]),
)
bad_or_unknown_ids = st.one_of(unknown_ids, unknown_ids.map(str), bad_ids)

# JSON documents no payload or output may hold
bad_json = st.one_of(
    st.sampled_from([nested(constants.PAYLOAD_DEPTH_MAX + 1), nested(10_000), nested(100_000),
                     {"x": "x" * constants.PAYLOAD_MAX_BYTES}, ["é" * (constants.PAYLOAD_MAX_BYTES // 2 + 1)],
                     {"n": 10**400}, {"n": -(10**5000)}, {1: "int key"}, {(1, 2): "tuple key"},
                     {"x": {1, 2}}, {"x": b"bytes"}, {"x": object()}, {"x": datetime(2026, 1, 1)}]),
    st.sampled_from(BAD_NUMBERS[:3]).map(lambda n: {"x": [n]}),
    unstorable_text.map(lambda s: {"x": s}),
    unstorable_text.map(lambda s: {s: 1}),
)
bad_payload = st.one_of(bad_json, st.sampled_from([[], [1, 2], "text", 1, None, True]))

bad_attempts = st.one_of(non_integers, st.sampled_from([-1, -(2**63), 2**31, 2**63, 10**400]))
bad_leases = st.one_of(st.sampled_from([0, -1, 0.0, -0.0, 86_400.5, 1e308, float("nan"), float("inf"),
                                        float("-inf"), True, "30", None, [30]]),
                       st.floats(max_value=0), st.floats(min_value=86_400.01))
bad_votes = st.one_of(st.sampled_from([2, -2, 2**63, 10**400, 1.0, 0.5, float("nan"), float("inf"), True, "1",
                                       "+1", None, [1]]),
                      st.integers().filter(lambda n: abs(n) > 1))
bad_verdicts = st.one_of(bad_votes, st.just(0))
bad_quality = st.sampled_from([-0.01, 1.01, float("nan"), float("inf"), float("-inf"), 1e308, "0.5", True, [0.5]])


def _field_bad_values() -> dict[str, st.SearchStrategy[Any]]:
    past = datetime(2001, 1, 1, tzinfo=UTC)
    return {
        "title": bad_text(constants.TITLE_MAX),
        "team": st.one_of(bad_team, unknown_team),
        "description": bad_text(constants.DESCRIPTION_MAX, empty_ok=True),
        "category": bad_category,
        "payload": bad_payload,
        "priority": st.one_of(non_integers, st.sampled_from([0, 11, -1, 2**63, 10**400])),
        "created_by": st.one_of(unknown_ids, bad_ids.filter(lambda v: v is not None)),
        "dopamine_reward": st.one_of(st.sampled_from(BAD_NUMBERS), st.sampled_from([10.01, -0.01, "1", True])),
        "max_attempts": st.one_of(non_integers, st.sampled_from([0, 101, -1, 2**63])),
        "review_quorum": st.one_of(non_integers, st.sampled_from([-1, 16, 2**63])),
        "depends_on": st.one_of(
            st.lists(unknown_ids, min_size=1, max_size=3),
            unknown_ids.map(lambda u: [u, u]),  # a duplicate
            st.just([uuid.uuid4() for _ in range(constants.DEPENDS_ON_MAX + 1)]),
            bad_ids.filter(lambda v: v not in ([], None)).map(lambda v: v if isinstance(v, list) else [v]),
            st.sampled_from(["not a list", 1, {"a": 1}]),
        ),
        "deadline": st.one_of(
            st.sampled_from([datetime(2030, 1, 1), past, past - timedelta(days=10**5), 0, -1, 1e308, float("nan"),
                             "tomorrow", "2030-01-01T00:00:00", "", [], "2001-01-01T00:00:00Z"]),
            unstorable_text,
        ),
        "fibonacci_size": st.one_of(st.sampled_from([0, 4, 6, 22, -1, 2**63, 1.0, "1", True, None])),
        "idempotency_key": bad_text(constants.IDEMPOTENCY_KEY_MAX).filter(lambda v: v is not None),  # None: no key
    }


FIELD_BAD_VALUES = _field_bad_values()


@st.composite
def bad_submissions(draw: st.DrawFn, base: dict[str, Any] | None = None) -> Any:
    """A valid submission with one field corrupted, an unknown field, or not an object at all."""
    data = dict(base or {"title": "fuzzed", "team": "iota"})
    kind = draw(st.sampled_from(["field", "field", "field", "unknown", "shape"]))
    if kind == "field":
        name = draw(st.sampled_from(sorted(FIELD_BAD_VALUES)))
        data[name] = draw(FIELD_BAD_VALUES[name])
        return data
    if kind == "unknown":
        data[draw(st.sampled_from(["nonsense", "id", "status", "x\ud800", "'; DROP TABLE x; --", "\x00"]))] = 1
        return data
    return draw(st.one_of(st.sampled_from([None, [], [data], "title", 1, float("nan"), nested(10_000)]),
                          not_a_string))


bad_registrations = st.one_of(
    st.builds(lambda c: {"codename": c, "team": "iota"}, bad_codename),
    st.builds(lambda t: {"codename": "fuzz-agent", "team": t}, st.one_of(bad_team, unknown_team)),
    st.builds(lambda r: {"codename": "fuzz-agent", "team": "iota", "role": r}, bad_text(constants.ROLE_MAX)),
    st.builds(lambda s: {"codename": "fuzz-agent", "team": "iota", "specialization": s},
              st.one_of(bad_text(constants.ROLE_MAX).map(lambda x: [x]), st.just(["a"] * (constants.SPECIALIZATIONS_MAX + 1)),
                        st.sampled_from(["sql", 1, None, {"a": 1}]))),
    st.just({"codename": "fuzz-agent", "team": "iota", "trust_coefficient": 1.0}),
    st.sampled_from([None, [], "fuzz-agent", 1]),
)
