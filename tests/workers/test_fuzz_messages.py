"""Hostile Celery messages. In-process, the validation every entry point runs first
(``messages.body`` then the message model) gets many generated bodies; through a real broker, a
real ``phoenix-board workers`` process gets a fixed set of hostile messages, must reject each in
one logged line without a retry, write nothing, and still complete the valid task sent after them.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoenix_board.board import constants, errors, models
from phoenix_board.workers import messages
from tests import strategies as bad
from tests.conftest import assert_one_line, make_agent, make_task, snapshot, wait_for

TASK, AGENT = str(uuid.uuid4()), str(uuid.uuid4())
VALID: dict[str, tuple[type, dict[str, Any]]] = {
    "submit": (messages.SubmitMessage, {"title": "t", "team": "iota", "idempotency_key": "k"}),
    "submit_many": (messages.SubmitManyMessage, {"tasks": [{"title": "t", "team": "iota", "idempotency_key": "k"}]}),
    "vote": (messages.VoteMessage, {"task": TASK, "agent": "fuzz-1", "value": 1}),
    "comment": (messages.CommentMessage, {"task": TASK, "agent": "fuzz-1", "content": "hi"}),
    "wake": (messages.WakeMessage, {"team": "iota"}),
    "judge": (messages.JudgeMessage, {"task": TASK, "agent": AGENT}),
}
CORRUPTIONS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "submit": {**bad.FIELD_BAD_VALUES, "idempotency_key": bad.bad_text(constants.IDEMPOTENCY_KEY_MAX)},
    "submit_many": {"tasks": st.one_of(st.sampled_from([[], None, "tasks", [1], [[]], {"a": 1}]),
                                       st.just([{}] * (constants.BATCH_MAX + 1)))},
    "vote": {"task": bad.bad_ids, "agent": bad.bad_text(constants.CODENAME_MAX), "value": bad.bad_votes,
             "reason": bad.bad_text(constants.REASON_MAX, empty_ok=True).filter(lambda v: v is not None)},
    "comment": {"task": bad.bad_ids, "agent": bad.bad_text(constants.CODENAME_MAX),
                "content": bad.bad_text(constants.COMMENT_MAX), "parent": bad.bad_ids.filter(lambda v: v is not None)},
    "wake": {"team": bad.bad_team},
    "judge": {"task": bad.bad_ids, "agent": bad.bad_ids},
}
# The database, not the message, refuses what is well-formed but unknown or past (a team, an
# author, a dependency, a deadline), so the in-process check uses only malformed values for those.
CORRUPTIONS["submit"].update({
    "team": bad.bad_team,
    "created_by": bad.bad_ids.filter(lambda v: v is not None and not isinstance(v, list)),
    "depends_on": st.one_of(bad.unknown_ids.map(lambda u: [u, u]), st.just([uuid.uuid4()] * 2),
                            st.just([uuid.uuid4() for _ in range(constants.DEPENDS_ON_MAX + 1)]),
                            st.sampled_from(["not a list", 1, {"a": 1}, ["x"], [None]])),
    "deadline": st.sampled_from([datetime(2030, 1, 1), "tomorrow", "2030-01-01T00:00:00", "", [], float("nan"), 1e308]),
})


@st.composite
def hostile_messages(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """(kind, args, kwargs) of a message whose body or shape is wrong."""
    kind = draw(st.sampled_from(sorted(VALID)))
    body = dict(VALID[kind][1])
    how = draw(st.sampled_from(["field", "field", "field", "unknown", "body", "shape"]))
    if how == "field":
        name = draw(st.sampled_from(sorted(CORRUPTIONS[kind])))
        body[name] = draw(CORRUPTIONS[kind][name])
    elif how == "unknown":
        body[draw(st.sampled_from(["extra", "x\ud800", "\x00"]))] = 1
    elif how == "body":
        body = draw(st.one_of(st.sampled_from([None, [], "x", 1, bad.nested(10_000)]), bad.not_a_string))
    else:
        return kind, draw(st.sampled_from([(body, body), (body, 1)])), draw(st.sampled_from([{}, {"body": body}]))
    if draw(st.booleans()):
        return kind, (), draw(st.sampled_from([{"body": body}, {"body": body, "extra": 1}, {"bodY": body}]))
    return kind, (body,), {}


@bad.fuzz_settings(400)
@given(message=hostile_messages())
def test_message_validation_refuses_hostile_bodies(message):
    kind, args, kwargs = message
    with pytest.raises(errors.InvalidInput) as info:
        models.parse(VALID[kind][0], messages.body(args, kwargs))
    assert_one_line(info.value.message)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_bodies_pass_so_the_refusals_above_mean_something(kind):
    model, body = VALID[kind]
    assert models.parse(model, messages.body((), {"body": body})) == models.parse(model, messages.body((body,), {}))


# --- through a real broker to a real worker ----------------------------------------------------

def stable_snapshot(sql) -> dict[str, Any]:
    """snapshot() of every table, with agents read without the columns a live worker keeps
    moving (heartbeat, idle time, hormone decay): a rejected message may change none of the rest."""
    out = snapshot(sql)
    out["agents"] = sql.execute("""
        SELECT count(*) AS n, md5(string_agg(concat_ws('|', id, codename, team, role, specialization::text,
               trust_coefficient, trust_r, trust_s, tasks_completed, tasks_failed, current_task, decommissioned_at),
               ',' ORDER BY id)) AS h
          FROM phoenix.agents""").fetchone()
    out["agents"] = (out["agents"]["n"], out["agents"]["h"])
    return out


def hostile_bodies(task: str, agent: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """(task name, args, kwargs): one of each kind of bad input, each refused by validation or by
    the board (a real task and agent where the refusal should come from elsewhere)."""
    submit = {"title": "t", "team": "iota", "idempotency_key": "hostile"}
    return [
        ("phoenix.submit", (), {"body": {**submit, "title": ""}}),
        ("phoenix.submit", (), {"body": {**submit, "title": "a\x00b"}}),
        ("phoenix.submit", (), {"body": {**submit, "title": "\ud800"}}),
        ("phoenix.submit", (), {"body": {**submit, "payload": {"x": float("nan")}}}),
        ("phoenix.submit", (), {"body": {**submit, "payload": bad.nested(constants.PAYLOAD_DEPTH_MAX + 5)}}),
        ("phoenix.submit", (), {"body": {**submit, "priority": 2**63}}),
        ("phoenix.submit", (), {"body": {**submit, "team": "'; DROP TABLE phoenix.tasks; --"}}),
        ("phoenix.submit", (), {"body": {**submit, "team": "nowhere"}}),
        ("phoenix.submit", (), {"body": {**submit, "depends_on": [str(uuid.uuid4())]}}),
        ("phoenix.submit", (), {"body": {**submit, "depends_on": [task, task]}}),
        ("phoenix.submit", (), {"body": {**submit, "description": "x" * (constants.DESCRIPTION_MAX + 1)}}),
        ("phoenix.submit", (submit, 1), {}),
        ("phoenix.submit", (), {"body": submit, "extra": 1}),
        ("phoenix.submit", (), {}),
        ("phoenix.submit_many", (), {"body": {"tasks": "not a list"}}),
        ("phoenix.vote", (), {"body": {"task": task, "agent": agent, "value": "1"}}),
        ("phoenix.vote", (), {"body": {"task": str(uuid.uuid4()), "agent": agent, "value": 1}}),
        ("phoenix.vote", (), {"body": {"task": task, "agent": "nobody-at-all", "value": -1}}),
        ("phoenix.comment", (), {"body": {"task": task, "agent": agent, "content": "x" * (constants.COMMENT_MAX + 1)}}),
        ("phoenix.comment", (), {"body": {"task": task, "agent": agent, "content": "hi", "parent": str(uuid.uuid4())}}),
        ("phoenix.comment", (), {"body": None}),
        ("phoenix.assess", (), {"body": {"task": str(uuid.uuid4()), "agent": str(uuid.uuid4())}}),
        ("phoenix.review", (), {"body": {"task": "'; --", "agent": 1}}),
        ("phoenix.wake", (), {"body": {"team": "Not A Team"}}),
    ]


def forged(client, redis, body: bytes) -> bytes:
    """A Celery message for phoenix.submit whose body is these bytes: a real message taken from a
    queue nobody reads, with its body replaced."""
    aside = f"{client.settings.queue_prefix}.aside"
    client.app.send_task("phoenix.submit", kwargs={"body": {}}, queue=aside)
    envelope = json.loads(redis.rpop(aside))
    envelope["body"] = base64.b64encode(body).decode()
    envelope["properties"]["delivery_info"]["routing_key"] = client.settings.board_queue()
    return json.dumps(envelope).encode()


@pytest.mark.slow
def test_a_worker_rejects_hostile_messages_in_one_line_and_keeps_working(pools, client, db, sql, env):
    author = make_agent(db, team="iota", codename="fuzz-author")
    task = make_task(db, team="iota", created_by=author.id, category="noop", title="already here")
    pools.start("iota", agents=1, name="fuzz")
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"],
             what="the worker to complete the task already on the board")
    before = stable_snapshot(sql)
    sent = hostile_bodies(str(task.id), "fuzz-author")
    for name, args, kwargs in sent:
        queue = client.settings.team_queue("iota") if name in ("phoenix.wake", "phoenix.assess", "phoenix.review") \
            else client.settings.board_queue()
        client.app.send_task(name, args=args, kwargs=kwargs, queue=queue)

    def rejections() -> list[str]:
        return [line for line in pools.log("fuzz").splitlines() if "rejected " in line]

    with client.app.connection_for_write() as conn:
        redis = conn.default_channel.client
        # bodies no JSON encoder would write: invalid UTF-8, and nesting past Python's recursion limit
        for raw in (b'[[], {"body": {"title": "\xff\xfe", "team": "iota"}}, {}]',
                    b'[[], {"body": ' + b"[" * 10_000 + b"]" * 10_000 + b'}, {}]'):
            redis.lpush(client.settings.board_queue(), forged(client, redis, raw))
        sent += [("raw", (), {})] * 2
        wait_for(lambda: len(rejections()) >= len(sent), what=f"{len(sent)} rejections")
        wait_for(lambda: redis.llen(client.settings.board_queue()) + redis.llen(client.settings.team_queue("iota")) == 0,
                 what="empty queues")
    assert stable_snapshot(sql) == before
    log = pools.log("fuzz")
    assert len(rejections()) == len(sent), rejections()
    assert "Traceback" not in log and "Retry in" not in log, log[-3000:]
    for line in rejections():
        assert_one_line(line)

    key = client.submit({"title": "after the storm", "team": "iota", "category": "noop"})
    wait_for(lambda: (t := client.status(key)) and t.status == "complete", what="the valid task after them")
