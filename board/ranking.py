"""Ranking: the board's sorts, the claim order, and the batch refresh of hot ranks.

**Sorts** are Lemmy's that make sense for tasks: ``hot`` (Lemmy's hot rank of score and age;
the formula's one home is ``sql/functions/10_hot_rank.sql``),
``active`` (hot rank of score and last comment), ``new``, ``old``, ``top`` (score),
``controversial`` (Lemmy's controversy rank) and ``most_comments``. Every sort breaks ties by
``created_at`` then ``id``, so the order is total and pages are stable; pages are keyset
cursors, so a page is as fast deep in the board as on top.

Each ranked value is indexed only where it is not zero (a task without votes or comments has
controversy 0; hot rank is 0 after a week), which keeps those indexes small on a board with a
long history. A listing reads the positive part through its index, then the zero part through
the ``created_at`` index (and, for ``top``, the negative part), which together are exactly the
rows in (value DESC, created_at DESC, id DESC) order.

**The claim order** is separate from these sorts: see ``sql/functions/11_claim_key.sql`` and
docs/concepts/ranking.md#claim-order. Lemmy lets old posts sink; a task board must not let old tasks starve.

**Refresh.** Hot ranks fall with age, so the beat refreshes the rows still ranked in batches in
creation order, with SKIP LOCKED, as Lemmy's scheduled task does.
"""

from __future__ import annotations

import base64
import enum
import functools
import json
import operator
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database


class Sort(enum.StrEnum):
    HOT = "hot"
    ACTIVE = "active"
    NEW = "new"
    OLD = "old"
    TOP = "top"
    CONTROVERSIAL = "controversial"
    MOST_COMMENTS = "most_comments"


# the column each ranked sort orders by; None: by creation time alone
_VALUE = {
    Sort.HOT: "hot_score",
    Sort.ACTIVE: "active_score",
    Sort.TOP: "score",
    Sort.CONTROVERSIAL: "controversy",
    Sort.MOST_COMMENTS: "comment_count",
    Sort.NEW: None,
    Sort.OLD: None,
}
LISTED = (
    "id", "title", "team", "status", "category", "priority", "score", "upvotes", "downvotes",
    "comment_count", "hot_score", "active_score", "controversy", "fibonacci_size", "assigned_to",
    "attempt", "deadline", "created_at",
)
_COLUMNS = sorted({*LISTED, "created_by"})
tasks = sa.table("tasks", *(sa.column(c) for c in _COLUMNS), schema="phoenix")
_DIALECT = postgresql.psycopg.dialect()
_REAL_MAX = 3.4e38  # NaN fails the comparison too


@functools.cache
def _listing_sql(sort: Sort, team: bool, status: bool, cursor: bool, assignee: bool = False,
                 creator: bool = False, category: bool = False) -> str:
    """The listing statement for this shape, composed once and cached (compiling costs ~1 ms)."""
    c = tasks.c
    filters = []
    if team:
        filters.append(c.team == sa.bindparam("team"))
    if assignee:  # who holds it, or worked it last
        filters.append(c.assigned_to == sa.bindparam("assignee", type_=postgresql.UUID))
    if creator:
        filters.append(c.created_by == sa.bindparam("creator", type_=postgresql.UUID))
    if category:
        filters.append(c.category == sa.bindparam("category"))
    if status:
        filters.append(sa.cast(c.status, sa.Text) == sa.any_(sa.bindparam("statuses", type_=postgresql.ARRAY(sa.Text))))
    cols = [c[name] for name in LISTED]
    limit = sa.bindparam("limit", type_=sa.Integer)
    value_name = _VALUE[sort]

    if value_name is None:
        order = (c.created_at, c.id) if sort is Sort.OLD else (c.created_at.desc(), c.id.desc())
        where = list(filters)
        if cursor:
            key = sa.tuple_(c.created_at, c.id)
            bound = sa.tuple_(sa.bindparam("c_at"), sa.bindparam("c_id"))
            where.append(key > bound if sort is Sort.OLD else key < bound)
        stmt = sa.select(*cols).where(*where).order_by(*order).limit(limit)
        return str(stmt.compile(dialect=_DIALECT))

    value = c[value_name]
    key = sa.tuple_(value, c.created_at, c.id)
    # cast to the column's own type: a real read back as a Python float must compare equal to itself
    value_type = sa.Integer if value_name in ("score", "comment_count") else sa.REAL
    bound = sa.tuple_(sa.cast(sa.bindparam("c_value"), value_type), sa.bindparam("c_at"), sa.bindparam("c_id"))
    zero = sa.literal_column("0")
    predicates = [value > zero, value == zero] + ([value < zero] if sort is Sort.TOP else [])
    parts = []
    for number, predicate in enumerate(predicates, start=1):
        where = [*filters, predicate]
        if cursor:
            where.append(key < bound)
        if parts:
            # read this part only when the parts before it did not fill the page: without the
            # guard the zero part walks the created_at index past every ranked task (~7 ms)
            counts = [sa.select(sa.func.count()).select_from(p).scalar_subquery() for p in parts]
            where.append(functools.reduce(operator.add, counts) < limit)
        parts.append(
            sa.select(*cols, sa.literal_column(str(number)).label("part"))
            .where(*where)
            .order_by(value.desc(), c.created_at.desc(), c.id.desc())
            .limit(limit)
            .cte(f"part{number}")
        )
    union = sa.union_all(*(sa.select(p) for p in parts)).subquery("page")
    stmt = (
        sa.select(*(union.c[name] for name in LISTED))
        .order_by(union.c.part, union.c[value_name].desc(), union.c.created_at.desc(), union.c.id.desc())
        .limit(limit)
    )
    return str(stmt.compile(dialect=_DIALECT))


def page(db: Database, sort: Sort | str = Sort.HOT, *, team: str | None = None,
         statuses: list[str] | None = None, limit: int = 50, cursor: str | None = None,
         assignee: Any = None, creator: Any = None, category: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the board; returns (rows, cursor of the next page or None). ``assignee`` and
    ``creator`` are agent ids: tasks it holds or worked last, tasks it submitted."""
    try:
        sort = Sort(sort)
    except (ValueError, TypeError):
        raise errors.InvalidInput(f"unknown sort {inputs.shown(sort)}; use one of: {', '.join(s.value for s in Sort)}") from None
    limit = models.whole_arg(limit, "limit", 1, constants.PAGE_SIZE_MAX)
    if team is not None:
        team = models.team_arg(team)
    if category is not None:
        category = models.category_arg(category)
    known = [m.value for m in models.TaskStatus]
    if statuses is not None and not isinstance(statuses, list | tuple):
        raise errors.InvalidInput(f"statuses must be a list of: {', '.join(known)}")
    for s in statuses or []:
        if not isinstance(s, str) or s not in known:
            raise errors.InvalidInput(f"unknown status {inputs.shown(s)}; use one of: {', '.join(known)}")
    params: dict[str, Any] = {"limit": limit, "team": team, "statuses": statuses,
                              "assignee": None if assignee is None else models.uuid_arg(assignee, "assignee"),
                              "creator": None if creator is None else models.uuid_arg(creator, "creator"),
                              "category": category}
    if cursor:
        params.update(_decode(cursor, sort))
    sql = _listing_sql(sort, team is not None, bool(statuses), cursor is not None, assignee is not None,
                       creator is not None, category is not None)
    rows = db.fetch_sql(sql, params)
    nxt = _encode(rows[-1], sort) if len(rows) == limit else None
    return rows, nxt


def _encode(row: dict[str, Any], sort: Sort) -> str:
    name = _VALUE[sort]
    data = [row[name] if name else None, row["created_at"].isoformat(), str(row["id"])]
    return base64.urlsafe_b64encode(json.dumps([sort.value, *data]).encode()).decode().rstrip("=")


def _decode(cursor: Any, sort: Sort) -> dict[str, Any]:
    invalid = errors.InvalidInput(
        f"invalid cursor for sort {sort.value}; start again from the first page, without a cursor")
    if not isinstance(cursor, str) or len(cursor) > constants.CURSOR_MAX:
        raise invalid
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        kind, value, at, ident = raw
        at, ident = datetime.fromisoformat(at), UUID(ident)
    except (ValueError, TypeError, RecursionError):  # bad base64, JSON, shape, time or id
        raise invalid from None
    if kind != sort.value or at.tzinfo is None:
        raise invalid
    # the value goes to PostgreSQL as a real: anything else (a bool, a list, NaN) is not one we wrote
    if _VALUE[sort] is None:
        if value is not None:
            raise invalid
    elif not (isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= _REAL_MAX):
        raise invalid
    return {"c_value": value, "c_at": at, "c_id": ident}


def refresh_hot_scores(db: Database, now: datetime | None = None, batch: int = 1000) -> int:
    """Recomputes hot and active ranks (and open tasks' claim keys) for every task still ranked."""
    total = db.one("tasks_refresh_ranks_outside", now=now)["updated"]
    after = datetime.fromtimestamp(0).astimezone()
    while True:  # one short transaction per batch, as Lemmy's scheduled task does
        row = db.one("tasks_refresh_ranks", after=after, batch=batch, now=now)
        total += row["updated"]
        if row["next_after"] is None:
            return total
        after = row["next_after"]
