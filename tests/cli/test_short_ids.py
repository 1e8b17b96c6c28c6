"""Ids people can type (issue 13, point 3): tables show a short id (the random tail of a UUIDv7),
and every command that takes a task or comment id accepts it, any unique part of an id, or the
full id; an ambiguous part is refused in one line that lists its candidates."""

from __future__ import annotations

import re
import uuid

import pytest

from phoenix_board.board import agents, errors, ids, lifecycle
from tests.conftest import snapshot


def test_short_ids_grow_until_the_shown_rows_differ():
    a = uuid.UUID("01a23761-0000-7000-8000-000001234567")
    b = uuid.UUID("01a23761-0000-7000-8000-0000a1234567")
    c = uuid.UUID("01a23761-0000-7000-8000-00000b999999")
    shown = ids.short([a, b, c])
    assert shown[str(c)] == "b999999"  # seven digits when they suffice
    assert (shown[str(a)], shown[str(b)]) == ("01234567", "a1234567")  # both end in 1234567
    assert ids.short_one(None) == "-"


def test_resolve_by_tail_part_or_full_id_and_refuse_ambiguity(db):
    one, _ = lifecycle.submit(db, {"title": "one", "team": "iota"})
    two, _ = lifecycle.submit(db, {"title": "two", "team": "iota"})
    assert ids.task(db, ids.short_one(one.id)) == one.id
    assert ids.task(db, ids.short_one(two.id)[:5]) == two.id or ids.short_one(two.id)[:5] in one.id.hex
    assert ids.task(db, two.id.hex[:16]) == two.id  # the full id's start, as `show` prints it
    assert ids.task(db, str(one.id).upper()) == one.id
    # made within hours of each other, the two share their time-ordered first 6 digits
    with pytest.raises(errors.InvalidInput) as caught:
        ids.task(db, one.id.hex[:6])
    message = caught.value.message
    assert "ambiguous" in message and ids.short_one(one.id) in message and ids.short_one(two.id) in message
    assert "\n" not in message
    with pytest.raises(errors.NotFound):
        ids.task(db, "fffffff" if "fffffff" not in one.id.hex + two.id.hex else "eeeeeee")
    for bad in ("", "abc", "xyz12345", "-" * 8, 42):
        with pytest.raises(errors.InvalidInput):
            ids.task(db, bad)


@pytest.mark.slow
def test_a_short_id_through_every_command(run, db, sql):
    lead, _ = agents.register(db, {"codename": "lead-1", "team": "iota"})
    agents.register(db, {"codename": "helper-1", "team": "iota"})
    agents.register(db, {"codename": "judge-1", "team": "iota"})
    listing = run("board").stdout
    assert "error" not in listing
    first = run("submit", "--title", "Plan the launch", "--team", "iota", "--category", "noop",
                "--created-by", "judge-1").stdout
    short = re.search(r"submitted ([0-9a-f]{7,}) ", first).group(1)
    assert short in run("board").stdout  # what submit printed is what the board shows
    dep = re.search(r"submitted ([0-9a-f]{7,}) ",
                    run("submit", "--title", "After the launch", "--team", "iota", "--category", "noop",
                        "--depends-on", short).stdout).group(1)
    assert "1 unfinished" in run("show", dep).stdout
    run("vote", short, "-1", "--agent", "helper-1")  # -1 without "--"
    run("vote", short, "up", "--agent", "helper-1", "--reason", "on second thoughts")
    said = run("comment", short, "I'll take it", "--agent", "helper-1").stdout
    comment_short = re.search(r"comment ([0-9a-f]{7,}) on task " + short, said).group(1)
    run("comment", short, "thanks", "--agent", "lead-1", "--reply-to", comment_short)
    run("vote", comment_short, "up", "--agent", "lead-1", "--comment")
    shown = run("show", short).stdout
    assert comment_short in shown and "thanks" in shown and "+1 helper-1" in shown
    claimed = run("task", "claim", "--agent", "lead-1").stdout
    assert short in claimed
    run("task", "start", short, "--agent", "lead-1", "--attempt", "1")
    run("task", "renew", short, "--agent", "lead-1", "--attempt", "1")
    run("task", "delegate", short, "--agent", "lead-1", "--attempt", "1",
        "--children", '[{"title": "Draft the notes", "key": "notes", "category": "noop"}]')
    assert "Draft the notes" in run("show", short, "--tree").stdout
    kid = sql.execute("SELECT id FROM phoenix.tasks WHERE parent_id IS NOT NULL").fetchone()["id"]
    run("task", "claim", "--agent", "helper-1")
    kid_short = ids.short_one(kid)
    run("task", "fail", kid_short, "--agent", "helper-1", "--attempt", "1", "--reason", "no room")
    run("task", "cancel", short, "--reason", "moved")
    assert lifecycle.get(db, kid).status.value == "cancelled"

    other, _ = lifecycle.submit(db, {"title": "reviewed", "team": "iota", "review_quorum": 1})
    claimed = lifecycle.claim(db, lead.id)
    assert claimed.id == other.id
    lifecycle.result(db, other.id, lead.id, 1, {"ok": True}, 0.9)
    run("task", "review", ids.short_one(other.id), "--agent", "judge-1", "--verdict", "approve")
    assert lifecycle.get(db, other.id).status.value == "complete"

    before = snapshot(sql)
    ambiguous = run("show", other.id.hex[:6], ok=False)  # the first 6 digits: the same 4.6 hours
    assert ambiguous.returncode == 1 and "ambiguous" in ambiguous.stderr and len(ambiguous.stderr.splitlines()) == 1
    assert snapshot(sql) == before
