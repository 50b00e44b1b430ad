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

from bot.models import InboundAction
from bot.workspaces.service import active_only

TABLE: sa.Table = InboundAction.__table__  # type: ignore[attr-defined]
PENDING, DONE, FAILED = "pending", "done", "failed"
MAX_ATTEMPTS = 3  # a click that killed three workers is not run a fourth time
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


def claim(
    session: Session,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta,
    *,
    team_id: str | None = None,
) -> list[Claimed]:
    """Take up to `limit` pending clicks that are due (new, or held by a claim that
    expired), oldest first, for `lease` (renewed before each one is carried out)."""
    pick = sa.select(TABLE.c.id).where(
        TABLE.c.status == PENDING, TABLE.c.due_at <= now, active_only(TABLE.c.team_id)
    )
    if team_id is not None:
        pick = pick.where(TABLE.c.team_id == team_id)
    pick = pick.order_by(TABLE.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = session.execute(
        sa.update(TABLE)
        .where(TABLE.c.id.in_(pick))
        .values(attempts=TABLE.c.attempts + 1, due_at=now + lease)
        .returning(TABLE.c.id, TABLE.c.attempts, TABLE.c.team_id, TABLE.c.route, TABLE.c.body)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((Claimed(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows), key=_id)


def _id(c: Claimed) -> int:
    return c.id


def _held(claimed: Claimed) -> sa.ColumnElement[bool]:
    return sa.and_(
        TABLE.c.id == claimed.id, TABLE.c.attempts == claimed.token, TABLE.c.status == PENDING
    )


def renew(session: Session, claimed: Claimed, until: dt.datetime) -> bool:
    """Right before carrying a click out: still ours? Then hold it until `until`. A claim
    that expired while earlier clicks of its batch ran is left to whoever took it."""
    result = session.execute(
        sa.update(TABLE)
        .where(_held(claimed))
        .values(due_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(session: Session, claimed: Claimed, now: dt.datetime, *, failed: bool = False) -> bool:
    """Mark a click carried out (or given up), if this claim still holds it. The row is
    kept for KEEP (its `due_at` is then when it goes)."""
    result = session.execute(
        sa.update(TABLE)
        .where(_held(claimed))
        .values(status=FAILED if failed else DONE, done_at=now, due_at=now + KEEP)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def forget(session: Session, now: dt.datetime) -> int:
    """Delete finished clicks whose KEEP is over (index-bound: status, due_at)."""
    result = session.execute(
        sa.delete(TABLE).where(TABLE.c.status.in_((DONE, FAILED)), TABLE.c.due_at <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
