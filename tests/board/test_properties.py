"""Properties of the SQL formulas, checked by hypothesis against the real database.

Each test gets its own migrated database (the ``sql`` / ``db`` fixtures) and runs every example on
that one connection; the formulas are pure, or, for trust, each example rates a fresh agent. The
Python references are written from the formulas in the module docstrings and constants.py, not
from the SQL.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from phoenix_board.board import constants, hormones
from tests.conftest import make_agent

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
WEEK = timedelta(days=7)
BASELINES = hormones.BASELINES
HORMONES = hormones.HORMONES


def db_settings(examples: int):
    """Hypothesis settings for examples that share one function-scoped database."""
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=examples,
                    deadline=None, database=None)


# --- hot rank ---------------------------------------------------------------------------------


def float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def hot_rank_reference(score: int, age: timedelta) -> float:
    """Lemmy's hot rank: log10(max(2, score + 2)) / (hours + 2) ^ 1.8 inside (0, 7 days), else 0; a real."""
    if not timedelta(0) < age < WEEK:
        return 0.0
    hours = age / timedelta(hours=1)
    return float32(math.log10(max(2, score + 2)) / (hours + 2) ** 1.8)


def hot_rank(sql, score: int, age: timedelta) -> float:
    return sql.execute("SELECT phoenix.hot_rank(%s::numeric, %s::timestamptz, %s::timestamptz) AS r",
                       (score, T0, T0 + age)).fetchone()["r"]


WINDOW_EDGES = [timedelta(0), US, -US, WEEK - US, WEEK, WEEK + US]
scores = st.integers(-10**6, 10**6)
ages = st.one_of(
    st.sampled_from(WINDOW_EDGES),
    st.integers(-2 * 86_400_000_000, 10 * 86_400_000_000).map(lambda us: us * US),
)


@pytest.mark.parametrize("age,inside", [
    (timedelta(0), False),
    (US, True),
    (-US, False),
    (-timedelta(hours=1), False),
    (WEEK - US, True),
    (WEEK, False),
    (WEEK + US, False),
])
@pytest.mark.parametrize("score", [-10**6, -3, 0, 1, 10**6])
def test_hot_rank_window_edges(sql, score, age, inside):
    """Exactly at publication, at 7 days and in the future the rank is 0; just inside it is not."""
    got = hot_rank(sql, score, age)
    assert (got > 0) == inside
    assert got == pytest.approx(hot_rank_reference(score, age), rel=1e-6, abs=0)


@db_settings(400)
@given(score=scores, age=ages)
@example(score=10**6, age=US)
@example(score=-10**6, age=WEEK - US)
def test_hot_rank_equals_lemmys_formula(sql, score, age):
    got = hot_rank(sql, score, age)
    expected = hot_rank_reference(score, age)
    if expected == 0:
        assert got == 0
    else:
        assert math.isclose(got, expected, rel_tol=1e-6), (got, expected)


@db_settings(150)
@given(score=scores, age=ages, later=st.integers(1, 86_400_000_000).map(lambda us: us * US), more=st.integers(1, 1000))
def test_hot_rank_falls_with_age_and_rises_with_score(sql, score, age, later, more):
    rank = hot_rank(sql, score, age)
    assert hot_rank(sql, score, age + later) <= rank or age <= timedelta(0)
    assert hot_rank(sql, score + more, age) >= rank


@db_settings(100)
@given(score=scores, age=ages)
def test_hot_rank_two_argument_form_uses_now(sql, score, age):
    """hot_rank(score, published) is hot_rank(score, published, now()) within one statement."""
    row = sql.execute("""
        SELECT phoenix.hot_rank(%(s)s::numeric, now() - %(age)s::interval) AS two,
               phoenix.hot_rank(%(s)s::numeric, now() - %(age)s::interval, now()) AS three""",
                      {"s": score, "age": age}).fetchone()
    assert row["two"] == row["three"]
    assert row["two"] == pytest.approx(hot_rank_reference(score, age), rel=1e-6, abs=0)


# --- hormones ---------------------------------------------------------------------------------

# levels with at most 6 decimals, as the functions store them
level = st.integers(int(constants.HORMONE_MIN * 1e6), int(constants.HORMONE_MAX * 1e6)).map(lambda n: n / 1e6)
levels_st = st.fixed_dictionaries({h: level for h in HORMONES})
delta_value = st.one_of(
    st.floats(-10, 10, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),  # huge, tiny and negative
    st.sampled_from([1e300, -1e300, constants.HORMONE_MAX, -constants.HORMONE_MAX, 0.0]),
)
deltas_st = st.dictionaries(st.sampled_from(HORMONES), delta_value)


def hormones_add(sql, levels: dict, delta: dict) -> dict:
    return sql.execute("SELECT phoenix.hormones_add(%s, %s) AS h", (Jsonb(levels), Jsonb(delta))).fetchone()["h"]


def hormones_decay(sql, levels: dict, elapsed: float, half_life: float) -> dict:
    return sql.execute("SELECT phoenix.hormones_decay(%s, %s::float8, %s::float8) AS h",
                       (Jsonb(levels), elapsed, half_life)).fetchone()["h"]


def in_bounds(levels: dict) -> bool:
    return set(levels) == set(HORMONES) and all(
        constants.HORMONE_MIN <= levels[h] <= constants.HORMONE_MAX for h in HORMONES)


@db_settings(300)
@given(levels=levels_st, delta=deltas_st)
def test_hormones_add_clamps_to_bounds(sql, levels, delta):
    new = hormones_add(sql, levels, delta)
    assert in_bounds(new), new
    for h in HORMONES:
        if h in delta:
            clamped = min(constants.HORMONE_MAX, max(constants.HORMONE_MIN, levels[h] + delta[h]))
            assert new[h] == pytest.approx(clamped, abs=1e-6)
        else:
            assert new[h] == levels[h]  # keys missing from delta are unchanged


# Elapsed times up to 10^6 half-lives, across the point (~1074) where 2^-x underflows.
half_life_st = st.floats(1, 1e6)
half_lives_st = st.one_of(st.floats(0, 1e6), st.sampled_from([0.0, 1e-9, 1.0, 60.0, 1000.0, 1075.0, 1e6]))


@db_settings(300)
@given(levels=levels_st, half_life=half_life_st, half_lives=half_lives_st, backwards=st.booleans())
def test_hormones_decay_moves_toward_baseline_without_overshoot(sql, levels, half_life, half_lives, backwards):
    elapsed = -half_life * half_lives if backwards else half_life * half_lives  # a clock going back: no change
    new = hormones_decay(sql, levels, elapsed, half_life)
    assert in_bounds(new), new
    for h in HORMONES:
        b, old = BASELINES[h], levels[h]
        assert abs(new[h] - b) <= abs(old - b), (h, old, new[h])
        assert (new[h] - b) * (old - b) >= 0, (h, old, new[h])  # never crosses the baseline
        if elapsed <= 0:
            assert new[h] == old
        if half_lives >= 60 and not backwards:
            assert new[h] == pytest.approx(b, abs=1e-6)


@db_settings(200)
@given(levels=levels_st, k1=st.floats(0, 500), k2=st.floats(0, 500), half_life=half_life_st)
def test_hormones_decay_composes(sql, levels, k1, k2, half_life):
    """Decay by t1 then t2 equals decay by t1 + t2, so the beat's tick rate does not matter."""
    t1, t2 = k1 * half_life, k2 * half_life
    stepwise = hormones_decay(sql, hormones_decay(sql, levels, t1, half_life), t2, half_life)
    at_once = hormones_decay(sql, levels, t1 + t2, half_life)
    for h in HORMONES:
        assert stepwise[h] == pytest.approx(at_once[h], abs=1e-5)


# Regression: past ~1074 half-lives power(2, -x) raised 'value out of range: underflow' instead of
# returning the baseline, and one such agent made decay_all fail for all.
@pytest.mark.parametrize("half_lives", [1075, 2000, 1e6])
def test_hormones_decay_after_a_very_long_time_is_the_baseline(sql, half_lives):
    levels = {"dopamine": 5.0, "oxytocin": 0.0, "adrenaline": 2.5, "cortisol": 4.2}
    half_life = constants.HORMONE_HALF_LIFE_SECONDS
    assert hormones_decay(sql, levels, half_lives * half_life, half_life) == BASELINES


def test_decay_all_after_a_week_without_decay(db, sql):
    absent = make_agent(db, now=T0)
    present = make_agent(db, now=T0 + timedelta(days=8))
    sql.execute("UPDATE phoenix.agents SET hormone_levels = hormone_levels || '{\"cortisol\": 4.0}'")
    later = T0 + timedelta(days=8, minutes=10)
    assert hormones.decay_all(db, now=later) == 2
    rows = sql.execute("SELECT id, hormone_levels FROM phoenix.agents").fetchall()
    levels = {r["id"]: r["hormone_levels"] for r in rows}
    assert levels[absent.id] == BASELINES
    assert levels[present.id]["cortisol"] < 4.0


def stress_size_cap(sql, cortisol: float) -> int:
    levels = {"dopamine": 1.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": cortisol}
    return sql.execute("SELECT phoenix.stress_size_cap(%s) AS cap", (Jsonb(levels),)).fetchone()["cap"]


cortisol_st = st.one_of(
    st.floats(constants.HORMONE_MIN, constants.HORMONE_MAX),
    st.sampled_from([constants.STRESS_CORTISOL_MEDIUM, constants.STRESS_CORTISOL_HIGH]),
)


@db_settings(200)
@given(c1=cortisol_st, c2=cortisol_st)
def test_stress_size_cap_never_grows_with_cortisol(sql, c1, c2):
    low, high = sorted((c1, c2))
    assert stress_size_cap(sql, low) >= stress_size_cap(sql, high)


@pytest.mark.parametrize("cortisol,cap", [
    (constants.HORMONE_MIN, max(constants.FIBONACCI_SIZES)),
    (constants.STRESS_CORTISOL_MEDIUM - 1e-6, max(constants.FIBONACCI_SIZES)),
    (constants.STRESS_CORTISOL_MEDIUM, constants.STRESS_SIZE_MEDIUM),
    (constants.STRESS_CORTISOL_HIGH - 1e-6, constants.STRESS_SIZE_MEDIUM),
    (constants.STRESS_CORTISOL_HIGH, constants.STRESS_SIZE_HIGH),
    (constants.HORMONE_MAX, constants.STRESS_SIZE_HIGH),
])
def test_stress_size_cap_thresholds(sql, cortisol, cap):
    assert stress_size_cap(sql, cortisol) == cap


# --- trust ------------------------------------------------------------------------------------

rating = st.one_of(st.floats(0, 10), st.sampled_from([0.0, 10.0]))


def trust_row(sql, agent: UUID) -> dict:
    return sql.execute("""
        SELECT a.trust_coefficient AS t, a.trust_r AS r, a.trust_s AS s,
               (SELECT count(*) FROM phoenix.agent_interactions i WHERE i.agent_to = a.id) AS n,
               (SELECT to_jsonb(i) FROM phoenix.agent_interactions i WHERE i.agent_to = a.id
                 ORDER BY i.id DESC LIMIT 1) AS last
          FROM phoenix.agents a WHERE a.id = %s""", (agent,)).fetchone()


@db_settings(60)
@given(ratings=st.lists(st.tuples(rating, rating), min_size=1, max_size=15))
def test_trust_stays_inside_zero_one_and_matches_its_evidence(db, sql, ratings):
    """Beta reputation with forgetting: r <- lambda*r + p, s <- lambda*s + n, trust = (r+1)/(r+s+2)."""
    agent = make_agent(db).id
    prev = trust_row(sql, agent)
    assert (prev["t"], prev["r"], prev["s"], prev["n"]) == (0.5, 0, 0, 0)
    lam = constants.TRUST_FORGETTING
    for positive, negative in ratings:
        delta = sql.execute("SELECT phoenix.trust_rate(%s, %s, %s, NULL, 'outcome', NULL, now()) AS d",
                            (agent, positive, negative)).fetchone()["d"]
        row = trust_row(sql, agent)
        assert 0 < row["t"] < 1
        assert row["r"] == pytest.approx(lam * prev["r"] + positive, rel=1e-12, abs=1e-12)
        assert row["s"] == pytest.approx(lam * prev["s"] + negative, rel=1e-12, abs=1e-12)
        assert row["t"] == pytest.approx((row["r"] + 1) / (row["r"] + row["s"] + 2), rel=1e-12)
        # one interaction row per rating, carrying exactly the change
        assert row["n"] == prev["n"] + 1
        last = row["last"]
        assert (last["agent_to"], last["agent_from"], last["interaction_type"]) == (str(agent), None, "outcome")
        assert last["trust_delta"] == pytest.approx(row["t"] - prev["t"], abs=1e-12)
        assert delta == pytest.approx(row["t"] - prev["t"], abs=1e-12)
        prev = row


# --- claim key --------------------------------------------------------------------------------

NO_DEADLINE_BOUND = 5 * constants.PRIORITY_STEP_SECONDS + constants.HOT_BOOST_CAP * constants.HOT_BOOST_SECONDS
BOOST_BOUND = max(NO_DEADLINE_BOUND, constants.DEADLINE_LEAD_SECONDS)
LOWEST_BOOST = (1 - 5) * constants.PRIORITY_STEP_SECONDS  # priority 1 waits this much longer (negative)


def claim_key_boost(sql, available_at: datetime, priority: int, hot: float, deadline: datetime | None) -> float:
    """How far (seconds) the claim key puts the task ahead of its available_at."""
    return float(sql.execute(
        "SELECT extract(epoch FROM %(a)s::timestamptz - phoenix.claim_key(%(a)s, %(p)s::integer, %(h)s::real, %(d)s::timestamptz)) AS b",
        {"a": available_at, "p": priority, "h": hot, "d": deadline}).fetchone()["b"])


def claim_key_boost_reference(available_at: datetime, priority: int, hot: float, deadline: datetime | None) -> float:
    """11_claim_key.sql: priority and capped hot boosts; a deadline makes the task due DEADLINE_LEAD before it."""
    boost = (priority - 5) * constants.PRIORITY_STEP_SECONDS + min(max(hot, 0), constants.HOT_BOOST_CAP) * constants.HOT_BOOST_SECONDS
    if deadline is not None:
        due = max(deadline, available_at) - timedelta(seconds=constants.DEADLINE_LEAD_SECONDS)
        boost = max(boost, (available_at - due) / timedelta(seconds=1))
    return boost


available_st = st.integers(-10**6, 10**6).map(lambda s: T0 + timedelta(seconds=s))
priority_st = st.integers(1, 10)
hot_st = st.one_of(st.floats(0, 2, width=32), st.floats(0, 1e6, width=32), st.sampled_from([0.0, constants.HOT_BOOST_CAP]))
deadline_offset_st = st.integers(1, 10 * 86_400_000_000).map(lambda us: us * US)


@db_settings(200)
@given(available_at=available_st, priority=priority_st, hot=hot_st)
def test_claim_key_boost_is_bounded_without_deadline(sql, available_at, priority, hot):
    boost = claim_key_boost(sql, available_at, priority, hot, None)
    assert LOWEST_BOOST - 1e-6 <= boost <= NO_DEADLINE_BOUND + 1e-6
    assert boost == pytest.approx(claim_key_boost_reference(available_at, priority, hot, None), abs=2e-6)


@db_settings(200)
@given(available_at=available_st, priority=priority_st, hot=hot_st, offset=deadline_offset_st,
       earlier=st.booleans())
def test_claim_key_boost_is_bounded_with_deadline(sql, available_at, priority, hot, offset, earlier):
    """Bounded by max(priority + hot boosts, DEADLINE_LEAD) for a deadline later, or even earlier,
    than available_at (a retried task can become available after its deadline)."""
    deadline = available_at - offset if earlier else available_at + offset
    boost = claim_key_boost(sql, available_at, priority, hot, deadline)
    assert LOWEST_BOOST - 1e-6 <= boost <= BOOST_BOUND + 1e-6
    assert boost == pytest.approx(claim_key_boost_reference(available_at, priority, hot, deadline), abs=2e-6)


def test_the_databases_hormones_are_the_python_tuple(sql):
    """board/hormones.HORMONES is Python's one list of the hormones; the database's (a new agent's
    levels) names the same four, at the same baselines."""
    row = sql.execute("SELECT column_default FROM information_schema.columns WHERE table_schema = 'phoenix'"
                      " AND table_name = 'agents' AND column_name = 'hormone_levels'").fetchone()
    levels = sql.execute(f"SELECT {row['column_default']} AS v").fetchone()["v"]
    assert set(levels) == set(HORMONES) and levels == BASELINES  # jsonb keeps no key order
