"""Scheduled: send each person's digest once per local working day."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import clock
from bot.config import Settings
from bot.db import session_scope
from bot.digest.blocks import digest_message
from bot.digest.service import digest_due, open_items, people_with_open_items
from bot.models import (
    DigestSend,
    Person,
)
from bot.notify import DeliveryError, Notifier
from bot.runtime import Runtime
from bot.workspaces.service import inactive_teams

log = logging.getLogger(__name__)


BATCH_PER_TICK = 200


RETRY_AFTER = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Due:
    team_id: str
    user_id: str
    local_date: dt.date


def due_digests(session: Session, settings: Settings, now: dt.datetime) -> list[Due]:
    """Everyone whose digest is due now and not already sent, failed or being sent."""
    gone = set(session.exec(inactive_teams()))  # type: ignore[call-overload]
    candidates = [c for c in people_with_open_items(session) if c[0] not in gone]
    if not candidates:
        return []
    people = {
        (p.team_id, p.slack_user_id): p
        for p in session.exec(
            select(Person).where(col(Person.slack_user_id).in_({u for _, u in candidates}))
        )
    }
    due: list[Due] = []
    for team_id, user_id in sorted(candidates):
        local_date = digest_due(people.get((team_id, user_id)), settings, now)
        if local_date is not None:
            due.append(Due(team_id, user_id, local_date))
    if not due:
        return []
    dates = {d.local_date for d in due}
    taken = {
        (r.team_id, r.user_id, r.local_date)
        for r in session.exec(select(DigestSend).where(col(DigestSend.local_date).in_(dates)))
        if r.status != "claimed" or (r.lease_until and clock.as_utc(r.lease_until) > now)
    }
    return [d for d in due if (d.team_id, d.user_id, d.local_date) not in taken]


def claim(engine: Engine, due: Due, now: dt.datetime, lease: dt.timedelta) -> int | None:
    """Atomically take this person's digest for the day; None if someone else has it."""
    until = now + lease
    try:
        with session_scope(engine) as session:
            row = DigestSend(
                team_id=due.team_id,
                user_id=due.user_id,
                local_date=due.local_date,
                status="claimed",
                lease_until=until,
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        pass
    with session_scope(engine) as session:
        row = session.exec(
            select(DigestSend).where(
                DigestSend.team_id == due.team_id,
                DigestSend.user_id == due.user_id,
                DigestSend.local_date == due.local_date,
            )
        ).first()
        if row is None:
            return None
        result = session.execute(
            update(DigestSend)
            .where(
                col(DigestSend.id) == row.id,
                col(DigestSend.status) == "claimed",
                col(DigestSend.lease_until) < now,
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
        return row.id if result.rowcount == 1 else None


def _finish(
    engine: Engine,
    send_id: int,
    status: str,
    *,
    ts: str | None = None,
    lease_until: dt.datetime | None = None,
) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(DigestSend)
            .where(col(DigestSend.id) == send_id)
            .values(status=status, message_ts=ts, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )


def send_one(rt: Runtime, notifier: Notifier, due: Due, now: dt.datetime) -> str:
    """Claim, build and send one digest: 'sent', 'empty', 'failed', 'retry' or 'taken'."""
    lease = dt.timedelta(seconds=rt.settings.step_lease_seconds)
    send_id = claim(rt.engine, due, now, lease)
    if send_id is None:
        return "taken"
    with session_scope(rt.engine) as session:
        items = open_items(session, due.team_id, due.user_id, due.local_date)
    if not items:
        _finish(rt.engine, send_id, "empty")  # nobody gets an empty digest
        return "empty"
    text, blocks = digest_message(items, due.local_date)
    try:
        posted = notifier.dm(due.team_id, due.user_id, text, blocks)
    except DeliveryError as exc:
        if exc.retryable:
            _finish(rt.engine, send_id, "claimed", lease_until=now + RETRY_AFTER)
            return "retry"
        log.warning("digest for %s not deliverable: %s", due.user_id, exc.code)
        _finish(rt.engine, send_id, "failed")
        return "failed"
    _finish(rt.engine, send_id, "sent", ts=posted.ts)
    return "sent"


def run_digests(
    rt: Runtime, notifier: Notifier, now: dt.datetime, limit: int = BATCH_PER_TICK
) -> int:
    """DUE_JOB: send the digests due at `now` (at most `limit` this tick)."""
    with session_scope(rt.engine) as session:
        due = due_digests(session, rt.settings, now)
    sent = 0
    for item in due[:limit]:
        if send_one(rt, notifier, item, now) == "sent":
            sent += 1
    return sent


DUE_JOBS = [("digest", run_digests)]
