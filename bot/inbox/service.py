"""The inbox's rows (`InboundAction`): record, claim, finish, forget. Core statements only:
the record is on the ack path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot.db import Db, on_postgres
from bot.models import InboundAction, InboxStatus
from bot.states import Machine, move_rows
from bot.workspaces.service import active_only

TABLE: sa.Table = InboundAction.__table__  # type: ignore[attr-defined]
PENDING, DONE, FAILED = InboxStatus.PENDING, InboxStatus.DONE, InboxStatus.FAILED
INBOX = Machine(
    "click",
    TABLE,
    {
        "claim": {PENDING: PENDING},  # new, or its claim expired (the token goes up)
        "done": {PENDING: DONE},
        "give_up": {PENDING: FAILED},
    },
)
# A click whose carrier died this often is not run again: it is what kills them (a worker
# stopped for other reasons is rarely stopped ten times during one click).
MAX_ATTEMPTS = 10
KEEP = dt.timedelta(days=1)  # finished rows stay a day (support questions), then go


@dataclass(frozen=True)
class Claimed:
    id: int
    token: int  # the claim's attempt number: only its holder may finish it
    team_id: str
    route: str
    body: Mapping[str, Any]

    @property
    def retried(self) -> bool:
        return self.token > 1


def _insert() -> Any:
    p, c = sa.bindparam, TABLE.c
    return (
        sa.insert(TABLE)
        .values(
            team_id=p("team_id"),
            route=p("route"),
            body=p("body", type_=c.body.type),
            status=PENDING,
            attempts=p("attempts"),
            due_at=p("due_at", type_=c.due_at.type),
            created_at=p("created_at", type_=c.created_at.type),
        )
        .returning(c.id)
    )


# Built once: the record is on the ack path, and building and cache-keying a statement anew
# cost more CPU than running it.
_RECORD = _insert()
_recorded = _insert().cte("recorded")
# PostgreSQL: the row and the worker's wake-up in one autocommitted statement (one round
# trip; the NOTIFY is delivered as it commits, so the worker always finds the row).
_RECORD_AND_WAKE = sa.select(
    _recorded.c.id, sa.func.pg_notify(sa.bindparam("channel"), sa.bindparam("payload"))
).select_from(_recorded)


def record(
    conn: Connection,
    team_id: str,
    route: str,
    body: Mapping[str, Any],
    now: dt.datetime,
    *,
    claimed: bool,
    lease: dt.timedelta,
    wake: tuple[str, str] | None = None,
) -> Claimed:
    """Write a click down: pending for any worker, or already claimed by this process for
    `lease` (`claimed`: it carries the click out itself). `wake` (PostgreSQL: a NOTIFY
    channel and payload) is sent in the same statement, so on an autocommit connection the
    whole write-down is one round trip; in a transaction, it commits with it."""
    values = {
        "team_id": team_id,
        "route": route,
        "body": dict(body),
        "attempts": 1 if claimed else 0,
        "due_at": now + lease if claimed else now,
        "created_at": now,
    }
    if wake is not None:
        stmt = _RECORD_AND_WAKE
        values.update(channel=wake[0], payload=wake[1])
    else:
        stmt = _RECORD
    row_id = conn.execute(stmt, values).scalar_one()
    return Claimed(int(row_id), 1 if claimed else 0, team_id, route, body)


def claim_next(
    session: Db,
    now: dt.datetime,
    lease: dt.timedelta,
    *,
    team_id: str | None = None,
) -> list[Claimed]:
    """Take the oldest pending click that is due (new, or held by a claim that expired) for
    `lease` — one at a time, so a claim's token counts the times it was started. A list:
    PostgreSQL may run a `LIMIT 1 … SKIP LOCKED` sub-select more than once in one UPDATE
    and so claim more than one row; every row claimed is returned, none is stranded."""
    pick = sa.select(TABLE.c.id).where(
        TABLE.c.status == PENDING, TABLE.c.due_at <= now, active_only(TABLE.c.team_id)
    )
    if team_id is not None:
        pick = pick.where(TABLE.c.team_id == team_id)
    pick = pick.order_by(TABLE.c.id).limit(1)
    if on_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    rows = move_rows(
        session,
        INBOX,
        "claim",
        TABLE.c.id.in_(pick),
        values={"attempts": TABLE.c.attempts + 1, "due_at": now + lease},
        returning=(TABLE.c.id, TABLE.c.attempts, TABLE.c.team_id, TABLE.c.route, TABLE.c.body),
    )
    return sorted((Claimed(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows), key=_id)


def _id(claimed: Claimed) -> int:
    return claimed.id


def finish(session: Db, claimed: Claimed, now: dt.datetime, *, failed: bool = False) -> bool:
    """Mark a click carried out (or given up), if this claim still holds it. The row is
    kept for KEEP (its `due_at` is then when it goes)."""
    return bool(
        move_rows(
            session,
            INBOX,
            "give_up" if failed else "done",
            TABLE.c.id == claimed.id,
            TABLE.c.attempts == claimed.token,
            values={"done_at": now, "due_at": now + KEEP},
        )
    )


def forget(session: Session, now: dt.datetime) -> int:
    """Delete finished clicks whose KEEP is over (index-bound: status, due_at)."""
    result = session.execute(
        sa.delete(TABLE).where(TABLE.c.status.in_((DONE, FAILED)), TABLE.c.due_at <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
