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


def record(
    conn: Connection,
    team_id: str,
    route: str,
    body: Mapping[str, Any],
    now: dt.datetime,
    *,
    claimed: bool,
    lease: dt.timedelta,
) -> Claimed:
    """Write a click down (in the caller's transaction): pending for any worker, or already
    claimed by this process for `lease` (`claimed`: it carries the click out itself)."""
    row_id = conn.execute(
        sa.insert(TABLE)
        .values(
            team_id=team_id,
            route=route,
            body=dict(body),
            status=PENDING,
            attempts=1 if claimed else 0,
            due_at=now + lease if claimed else now,
            created_at=now,
        )
        .returning(TABLE.c.id)
    ).scalar_one()
    return Claimed(int(row_id), 1 if claimed else 0, team_id, route, body)


def claim_next(
    session: Session, now: dt.datetime, lease: dt.timedelta, *, team_id: str | None = None
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
    if session.get_bind().dialect.name == "postgresql":
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


def finish(session: Session, claimed: Claimed, now: dt.datetime, *, failed: bool = False) -> bool:
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
