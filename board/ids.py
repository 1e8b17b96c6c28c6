"""Ids people can read and type: the short form every table shows, and the one resolver every
command uses to turn what was typed (a full id, the short tail, or any part of an id) into a
task or comment id.

Ids are UUIDv7: their first 12 hex digits are the creation time in milliseconds, so tasks made in
the same minute share a prefix. The last digits are random, so the short form is the tail, as
long as :data:`constants.SHORT_ID_MIN` and longer where two shown rows would share it (git
extends abbreviations the same way).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from phoenix_board.board import constants, errors, inputs
from phoenix_board.board.db import Database

_HEX = re.compile(r"^[0-9a-f]+$")


def short(ids: Iterable[UUID | str | None]) -> dict[str, str]:
    """Each id's shortest tail of at least SHORT_ID_MIN hex digits that no other of these ids
    ends with, keyed by the id's text (``str(uuid)``)."""
    hexes = {str(i): str(i).replace("-", "") for i in ids if i is not None}
    out: dict[str, str] = {}
    for key, h in hexes.items():
        n = constants.SHORT_ID_MIN
        while n < len(h) and any(o != h and o.endswith(h[-n:]) for o in hexes.values()):
            n += 1
        out[key] = h[-n:]
    return out


def short_one(value: UUID | str | None) -> str:
    """One id's short form, alone (where no other ids are shown beside it)."""
    return "-" if value is None else short([value])[str(value)]


def task(db: Database, ref: Any, what: str = "task") -> UUID:
    """The task a typed reference names: its full id, or at least SHORT_ID_TYPED_MIN hex digits
    of it that one task's id ends with (the short id tables show), or failing that, that one
    task's id contains (the short id's start, the full id's start). An ambiguous fragment is
    refused with its candidates on the same line."""
    return _resolve(db, ref, what, "task_ids_by_fragment", "task")


def comment(db: Database, ref: Any, what: str = "comment") -> UUID:
    """The comment a typed reference names, as :func:`task` does for tasks."""
    return _resolve(db, ref, what, "comment_ids_by_fragment", "comment")


def _resolve(db: Database, ref: Any, what: str, query: str, kind: str) -> UUID:
    if isinstance(ref, UUID):
        return ref
    text = ref.strip().lower().replace("-", "") if isinstance(ref, str) else ""
    if len(text) == 32 and _HEX.match(text):
        return UUID(text)  # a full id: no lookup, the command's own query says if it exists
    if not (constants.SHORT_ID_TYPED_MIN <= len(text) < 32 and _HEX.match(text)):
        raise errors.InvalidInput(f"{what} {inputs.shown(ref)} is not a valid id: give the id a table shows "
                                  f"(at least {constants.SHORT_ID_TYPED_MIN} hex digits) or the full id")
    rows = db.all(query, fragment=text, limit=constants.SHORT_ID_CANDIDATES_SHOWN + 1)
    tails = [r for r in rows if r["tail"]]
    rows = tails or rows  # the short id shown (an id's tail) wins over a match inside another id
    if not rows:
        raise errors.NotFound(f"{what} {text} not found: no {kind} id contains it")
    if len(rows) > 1:
        more = " and more" if len(rows) > constants.SHORT_ID_CANDIDATES_SHOWN else ""
        shown = short(r["id"] for r in rows[:constants.SHORT_ID_CANDIDATES_SHOWN])
        listing = ", ".join(f"{shown[str(r['id'])]} ({inputs.shown(r['title'])})"
                            for r in rows[:constants.SHORT_ID_CANDIDATES_SHOWN])
        raise errors.InvalidInput(f"{what} {text} is ambiguous: it matches {listing}{more}; type more digits")
    return rows[0]["id"]
