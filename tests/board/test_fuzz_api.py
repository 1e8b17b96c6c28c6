"""Hostile input through the Python API: every call is refused with a typed one-line error and the
database is exactly as before (row counts and checksums of every table).

Each test starts from a valid call on the fixture's board and corrupts one argument, so the
refusal is due to that argument alone; the corrupted argument is a wrong type, a value past a
limit, text PostgreSQL cannot store, SQL metacharacters, an unknown id, or a real id in the wrong
state.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoenix_board.board import agents, comments, constants, errors, lifecycle, models, ranking, votes
from tests import strategies as bad
from tests.conftest import assert_one_line, make_agent, make_task, snapshot

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)


# --- the world every hostile call aims at, and the check every refusal passes ---------------------

def refused(sql: Any, call: Callable[..., Any], *args: Any, **kwargs: Any) -> errors.BoardError:
    """Calls the board; it must raise a BoardError (no other kind) in one line and write nothing."""
    before = snapshot(sql)
    with pytest.raises(errors.BoardError) as info:
        call(*args, **kwargs)
    assert_one_line(info.value.message)
    assert str(info.value) == info.value.message
    assert snapshot(sql) == before
    return info.value


@dataclass(frozen=True, repr=False)
class World:
    author: models.Agent  # wrote every task and the comments
    worker: models.Agent  # holds the claim on `claimed` (attempt 1)
    finisher: models.Agent  # executed `in_review`
    reviewer: models.Agent  # free: may review, vote, comment
    open: models.Task
    claimed: models.Task
    in_review: models.Task
    comment: dict[str, Any]  # top-level comment on `open`, by author
    deepest: dict[str, Any]  # a reply at COMMENT_DEPTH_MAX under it: no reply may go deeper

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return "World()"


@pytest.fixture
def world(db) -> World:
    author, worker, finisher, reviewer = (make_agent(db, team="iota", codename=f"fuzz-{n}")
                                          for n in ("author", "worker", "finisher", "reviewer"))
    in_review = make_task(db, team="iota", created_by=author.id, review_quorum=1, payload={"k": [1, "two"]})
    got = lifecycle.claim(db, finisher.id)
    assert got is not None and got.id == in_review.id
    in_review = lifecycle.result(db, in_review.id, finisher.id, 1, {"done": True}, 0.9)
    claimed = make_task(db, team="iota", created_by=author.id)
    assert lifecycle.claim(db, worker.id).id == claimed.id
    open_task = make_task(db, team="iota", created_by=author.id, depends_on=[claimed.id], priority=1)
    top = comments.add(db, open_task.id, author.id, "top")
    deepest = top
    for _ in range(constants.COMMENT_DEPTH_MAX):
        deepest = comments.add(db, open_task.id, author.id, "reply", parent=deepest["id"])
    return World(author, worker, finisher, reviewer, lifecycle.get(db, open_task.id), lifecycle.get(db, claimed.id),
                 lifecycle.get(db, in_review.id), top, deepest)


@st.composite
def one_corrupted(draw: st.DrawFn, valid: dict[str, Any], corruptions: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(corruptions)))
    return {**valid, name: draw(corruptions[name])}


def ids_except(*real: Any) -> st.SearchStrategy[Any]:
    """An unknown or malformed id, or one of the real ids given (which are wrong for this call)."""
    return st.one_of(bad.bad_or_unknown_ids, st.sampled_from(real))


@bad.fuzz_settings(150)
@given(data=bad.bad_submissions())
def test_submit_refuses_bad_tasks(db, sql, world, data):
    refused(sql, lifecycle.submit, db, data)


@bad.fuzz_settings(40)
@given(data=bad.bad_submissions(base={"title": "fuzzed", "team": "iota", "idempotency_key": "fuzz-key"}))
def test_submit_with_a_key_refuses_bad_tasks(db, sql, world, data):
    refused(sql, lifecycle.submit, db, data)


def test_dependencies_cannot_form_a_cycle(db, sql, world):
    """A dependency must exist before its dependant, so no task can depend on itself, directly or
    through a chain; repeating the same submission (same key) cannot add a dependency either."""
    first = make_task(db, team="iota", idempotency_key="chain-1")
    second = make_task(db, team="iota", depends_on=[first.id])
    for deps in ([first.id, first.id], [uuid.uuid4()], [first.id, uuid.uuid4()]):
        refused(sql, lifecycle.submit, db, {"title": "again", "team": "iota", "depends_on": deps})
    before = snapshot(sql)
    # a resubmission cannot close the loop first -> second: other content under the key is refused
    with pytest.raises(errors.Conflict, match="idempotency key chain-1 was already used for a different task"):
        lifecycle.submit(db, {"title": "x", "team": "iota", "idempotency_key": "chain-1", "depends_on": [second.id]})
    assert lifecycle.get(db, first.id).depends_on == []
    assert snapshot(sql) == before
    edges = sql.execute("SELECT id, depends_on FROM phoenix.tasks").fetchall()
    assert all(t["id"] not in t["depends_on"] for t in edges)


def test_limits_at_the_edge_are_accepted_and_one_past_refused(db, sql, world):
    """The limits are exact: the last allowed value is stored, the first one past it is refused."""
    deps = [make_task(db, team="iota").id for _ in range(constants.DEPENDS_ON_MAX)]
    edge = {"title": "t" * constants.TITLE_MAX, "team": "iota", "description": "d" * constants.DESCRIPTION_MAX,
            "payload": bad.nested(constants.PAYLOAD_DEPTH_MAX - 1, "x"), "depends_on": deps,
            "idempotency_key": "k" * constants.IDEMPOTENCY_KEY_MAX}
    for name, past in (("title", "t" * (constants.TITLE_MAX + 1)),
                       ("description", "d" * (constants.DESCRIPTION_MAX + 1)),
                       ("payload", {"p": bad.nested(constants.PAYLOAD_DEPTH_MAX, "x")}),
                       ("depends_on", [*deps, make_task(db, team="iota").id]),
                       ("idempotency_key", "k" * (constants.IDEMPOTENCY_KEY_MAX + 1))):
        error = refused(sql, lifecycle.submit, db, {**edge, name: past})
        assert isinstance(error, errors.InvalidInput) and name.split("_")[0] in error.message
    task, created = lifecycle.submit(db, {**edge, "payload": {"p": bad.nested(constants.PAYLOAD_DEPTH_MAX - 1, "x")}})
    assert created and len(task.title) == constants.TITLE_MAX and len(task.depends_on) == constants.DEPENDS_ON_MAX
    big = {"x": "y" * (constants.PAYLOAD_MAX_BYTES - len('{"x": ""}'))}
    assert lifecycle.submit(db, {"title": "big", "team": "iota", "payload": big})[1]
    refused(sql, lifecycle.submit, db, {"title": "big", "team": "iota", "payload": {**big, "z": 1}})


def test_empty_title_names_the_limit(db, sql, world):
    error = refused(sql, lifecycle.submit, db, {"title": "", "team": "iota"})
    assert error.message == f"title must be 1-{constants.TITLE_MAX} characters"


@bad.fuzz_settings(60)
@given(data=st.data())
def test_claim_refuses_bad_agents_and_leases(db, sql, world, data):
    agent = data.draw(st.one_of(bad.bad_or_unknown_ids, st.just(world.worker.id)))  # the worker holds a claim
    lease = data.draw(st.one_of(bad.bad_leases, st.just(constants.LEASE_SECONDS)))
    if agent == world.worker.id and lease == constants.LEASE_SECONDS:
        lease = data.draw(bad.bad_leases)
    for call in (lifecycle.claim, lifecycle.claim_start):
        refused(sql, call, db, agent, lease)
    refused(sql, lifecycle.claim, db, world.reviewer.id, data.draw(bad.bad_leases))


def claim_args(world: World) -> dict[str, Any]:
    return {"task": world.claimed.id, "agent": world.worker.id, "attempt": 1}


def claim_corruptions(world: World) -> dict[str, st.SearchStrategy[Any]]:
    return {"task": ids_except(world.open.id, world.in_review.id),
            "agent": ids_except(world.author.id, world.reviewer.id, world.finisher.id),
            "attempt": st.one_of(bad.bad_attempts, st.sampled_from([0, 2, 2**31 - 1]))}


@bad.fuzz_settings(80)
@given(data=st.data())
def test_renew_and_start_refuse_anything_but_the_current_claim(db, sql, world, data):
    corruptions = {**claim_corruptions(world), "lease_seconds": bad.bad_leases}
    args = data.draw(one_corrupted({**claim_args(world), "lease_seconds": 30}, corruptions))
    refused(sql, lifecycle.renew, db, **args)
    refused(sql, lifecycle.start, db, **args)


@bad.fuzz_settings(80)
@given(data=st.data())
def test_result_refuses_bad_claims_outputs_and_qualities(db, sql, world, data):
    corruptions = {**claim_corruptions(world), "output": bad.bad_json, "quality": bad.bad_quality}
    args = data.draw(one_corrupted({**claim_args(world), "output": {"ok": 1}, "quality": 0.5}, corruptions))
    refused(sql, lifecycle.result, db, **args)
    refused(sql, lifecycle.result_claim_next, db, **args)


@bad.fuzz_settings(60)
@given(data=st.data())
def test_fail_refuses_bad_claims_and_reasons(db, sql, world, data):
    corruptions = {**claim_corruptions(world), "reason": bad.bad_text(constants.REASON_MAX)}
    refused(sql, lifecycle.fail, db, **data.draw(one_corrupted({**claim_args(world), "reason": "broke"}, corruptions)))


@bad.fuzz_settings(60)
@given(data=st.data())
def test_review_refuses_bad_verdicts_and_reviewers(db, sql, world, data):
    valid = {"task": world.in_review.id, "agent": world.reviewer.id, "verdict": 1, "reason": "fine"}
    args = data.draw(one_corrupted(valid, {
        "task": ids_except(world.open.id, world.claimed.id),
        "agent": ids_except(world.finisher.id),  # the executor may not review its own work
        "verdict": bad.bad_verdicts,
        "reason": bad.bad_text(constants.REASON_MAX, empty_ok=True).filter(lambda v: v is not None),
    }))
    refused(sql, lifecycle.review, db, **args)


@bad.fuzz_settings(60)
@given(data=st.data())
def test_vote_refuses_bad_votes(db, sql, world, data):
    valid = {"task": world.open.id, "agent": world.reviewer.id, "value": 1, "reason": None}
    args = data.draw(one_corrupted(valid, {
        "task": bad.bad_or_unknown_ids,
        "agent": ids_except(world.author.id),  # nobody votes on their own task
        "value": bad.bad_votes,
        "reason": bad.bad_text(constants.REASON_MAX, empty_ok=True).filter(lambda v: v is not None),
    }))
    refused(sql, votes.vote, db, **args)


@bad.fuzz_settings(60)
@given(data=st.data())
def test_comments_refuse_bad_content_parents_and_depth(db, sql, world, data):
    valid = {"task": world.open.id, "agent": world.reviewer.id, "content": "hi", "parent": world.comment["id"]}
    args = data.draw(one_corrupted(valid, {
        "task": ids_except(world.claimed.id),  # the parent belongs to another task
        "agent": bad.bad_or_unknown_ids,
        "content": bad.bad_text(constants.COMMENT_MAX),
        "parent": st.one_of(bad.bad_or_unknown_ids.filter(lambda v: v is not None), st.just(world.deepest["id"])),
    }))
    error = refused(sql, comments.add, db, **args)
    if args["parent"] == world.deepest["id"]:
        assert "too deep" in error.message and str(constants.COMMENT_DEPTH_MAX) in error.message


@bad.fuzz_settings(40)
@given(data=st.data())
def test_comment_votes_refuse_bad_votes(db, sql, world, data):
    valid = {"comment": world.comment["id"], "agent": world.reviewer.id, "value": 1}
    args = data.draw(one_corrupted(valid, {
        "comment": bad.bad_or_unknown_ids,
        "agent": ids_except(world.author.id),
        "value": bad.bad_votes,
    }))
    refused(sql, votes.comment_vote, db, **args)


@bad.fuzz_settings(80)
@given(data=bad.bad_registrations)
def test_register_refuses_bad_agents(db, sql, world, data):
    refused(sql, agents.register, db, data)


@bad.fuzz_settings(60)
@given(agent=bad.bad_or_unknown_ids, ref=st.one_of(bad.bad_or_unknown_ids, bad.bad_codename))
def test_agent_calls_refuse_unknown_and_malformed_agents(db, sql, world, agent, ref):
    refused(sql, agents.heartbeat, db, agent)
    refused(sql, agents.decommission, db, agent)
    refused(sql, agents.get, db, ref)
    if not isinstance(ref, uuid.UUID):  # an id resolves to itself unchecked; the call that uses it checks it
        refused(sql, agents.resolve, db, ref if not isinstance(ref, str) or not _is_uuid(ref) else "x y")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text.strip())
    except ValueError:
        return False
    return True


@bad.fuzz_settings(60)
@given(task=bad.bad_or_unknown_ids)
def test_show_refuses_unknown_and_malformed_tasks(db, sql, world, task):
    refused(sql, lifecycle.get, db, task)


def cursors() -> st.SearchStrategy[Any]:
    def encode(raw: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")

    at = "2026-01-01T00:00:00+00:00"
    shapes = st.sampled_from([
        ["hot", True, at, str(uuid.uuid4())], ["hot", [1], at, str(uuid.uuid4())], ["hot", "1", at, str(uuid.uuid4())],
        ["hot", float("nan"), at, str(uuid.uuid4())], ["hot", 1e308, at, str(uuid.uuid4())],
        ["hot", 10**400, at, str(uuid.uuid4())], ["hot", 1, "2026-01-01T00:00:00", str(uuid.uuid4())],
        ["hot", 1, at, "not-a-uuid"], ["new", 1, at, str(uuid.uuid4())], ["hot", 1, at], {"a": 1, "b": 2, "c": 3, "d": 4},
        ["hot", None, at, str(uuid.uuid4())], ["hot", 1, 12, str(uuid.uuid4())],
    ]).map(encode)
    return st.one_of(shapes, st.text(min_size=1), st.sampled_from(["x" * 100_000, "\x00", "\ud800", "=" * 8, 1, [1]]),
                     st.just(base64.urlsafe_b64encode(b"[" * 10_000 + b"]" * 10_000).decode()))


@bad.fuzz_settings(100)
@given(data=st.data())
def test_listing_refuses_bad_sorts_limits_teams_statuses_and_cursors(db, sql, world, data):
    valid = {"sort": "hot", "team": None, "statuses": None, "limit": 10, "cursor": None}
    args = data.draw(one_corrupted(valid, {
        "sort": st.one_of(bad.bad_category.filter(lambda s: not (isinstance(s, str) and s in list(ranking.Sort))),
                          st.just([])),
        "team": bad.bad_team.filter(lambda v: v is not None),
        "statuses": st.one_of(st.lists(bad.bad_category, min_size=1, max_size=2), st.sampled_from([1, "open"])),
        "limit": st.one_of(bad.non_integers, st.sampled_from([0, -1, constants.PAGE_SIZE_MAX + 1, 2**63])),
        "cursor": cursors(),
    }))
    sort = args.pop("sort")
    refused(sql, ranking.page, db, sort, **args)


def test_an_integer_past_the_largest_double_is_refused_not_an_overflow(db, sql, world: World):
    """Found by the suite: math.isfinite() raised OverflowError on an int beyond 1.8e308."""
    for huge in (10**400, -(10**400), 2**1024):
        refused(sql, lifecycle.submit, db, {"title": "t", "team": "iota", "payload": {"n": huge}})
        refused(sql, lifecycle.result, db, world.claimed.id, world.worker.id, world.claimed.attempt, {"n": [huge]}, 0.5)
