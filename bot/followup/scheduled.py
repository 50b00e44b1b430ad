"""Scheduled: the day-before reminder and the overdue notice of each open commitment, once.

Work grows with what is due, not with history: each open commitment carries `followup_at`
(indexed with its status), the next moment this job must look at it — its reminder, then
its overdue notice, then never (`NEVER`). NULL means "look as soon as you can": every change
that moves those moments (confirmed, reopened, a new due date, a snooze, a new owner) sets
it, and the job works out the real moment. The notices go through the outbox in the same
transaction that records them (`reminded_for`, `overdue_notified_at`).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import audit
from bot.config import Settings
from bot.db import session_scope
from bot.digest.service import (
    WEEKDAYS,
    commitment_item,
    is_workday,
    local_now,
    previous_workday,
)
from bot.followup.blocks import overdue_csm_message, overdue_owner_message, reminder_message
from bot.followup.service import BATCH, account_name
from bot.models import Commitment, CommitmentStatus, Person
from bot.notify import Notifier
from bot.outbox import service as outbox
from bot.people.service import timezone_of
from bot.runtime import Runtime
from bot.workspaces.service import active_only

log = logging.getLogger(__name__)
NEVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


# --- pure rules ----------------------------------------------------------------------------


def reminder_due(
    due: dt.date, local: dt.datetime, start_hour: int, days: frozenset[int] = WEEKDAYS
) -> bool:
    """True from the start of the working day before `due` until `due` itself."""
    today = local.date()
    return (
        is_workday(today, days)
        and local.hour >= start_hour
        and previous_workday(due, days) <= today < due
    )


def overdue_now(
    due: dt.date, local: dt.datetime, start_hour: int, days: frozenset[int] = WEEKDAYS
) -> bool:
    """Overdue once the due date has passed; told during the owner's working day."""
    return local.date() > due and is_workday(local.date(), days) and local.hour >= start_hour


def _start_of(day: dt.date, tz: ZoneInfo, start_hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(start_hour), tzinfo=tz).astimezone(dt.UTC)


def _next_start(
    after: dt.datetime, first_day: dt.date, tz: ZoneInfo, start: int, days: frozenset[int]
) -> dt.datetime:
    """The first start of a working day, on `first_day` or later, that lies after `after`."""
    day = first_day
    while not (is_workday(day, days) and _start_of(day, tz, start) > after):
        day += dt.timedelta(days=1)
    return _start_of(day, tz, start)


def next_followup_at(
    c: Commitment, person: Person | None, settings: Settings, now: dt.datetime
) -> dt.datetime:
    """When this job must next look at `c`: its reminder, else its overdue notice, else never.
    (A moment already past means "now"; the caller has just looked.)"""
    if c.status != CommitmentStatus.OPEN or c.due_date is None:
        return NEVER
    tz = timezone_of(person, settings.default_timezone)
    start, days = settings.workday_start_hour, settings.workday_numbers
    moments = []
    if c.reminded_for != c.due_date:
        remind = _start_of(previous_workday(c.due_date, days), tz, start)
        if remind > now:
            moments.append(remind)
    if c.overdue_notified_at is None:
        moments.append(_next_start(now, c.due_date + dt.timedelta(days=1), tz, start, days))
    if c.snoozed_until:
        snooze_end = _start_of(c.snoozed_until, tz, start)
        moments = [max(m, snooze_end) for m in moments]
    return min(moments) if moments else NEVER


# --- the job ------------------------------------------------------------------------------


def due_commitments(session: Session, now: dt.datetime, limit: int) -> list[Commitment]:
    """Open commitments whose moment has come, locked for this transaction (SKIP LOCKED).

    Two probes of `ix_commitment_followup` (status, followup_at): the NULLs ("look as soon
    as you can"), then the moments up to `now`. One query with `IS NULL OR <= now` ordered by
    the moment reads every open commitment to find none due."""
    rows: list[Commitment] = []
    for moment in (col(Commitment.followup_at).is_(None), col(Commitment.followup_at) <= now):
        if len(rows) >= limit:
            break
        stmt = (
            select(Commitment)
            .where(
                Commitment.status == CommitmentStatus.OPEN,
                moment,
                active_only(col(Commitment.team_id)),
            )
            .order_by(col(Commitment.followup_at), col(Commitment.id))
            .limit(limit - len(rows))
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows += list(session.exec(stmt))
    return rows


def _owner(session: Session, c: Commitment) -> Person | None:
    if not c.owner_user_id:
        return None
    return session.exec(
        select(Person).where(Person.team_id == c.team_id, Person.slack_user_id == c.owner_user_id)
    ).first()


def follow_up(session: Session, c: Commitment, settings: Settings, now: dt.datetime) -> int:
    """Queue whatever notice `c` is due for at `now`; returns how many messages."""
    person = _owner(session, c)
    local = local_now(person, settings, now)
    snoozed = bool(c.snoozed_until and c.snoozed_until > local.date())
    owner_gone = person is not None and person.deactivated
    queued = 0
    if (
        not snoozed
        and c.due_date
        and c.owner_user_id
        and not owner_gone
        and c.reminded_for != c.due_date
        and reminder_due(c.due_date, local, settings.workday_start_hour, settings.workday_numbers)
    ):
        c.reminded_for = c.due_date
        _, name = account_name(session, c)
        text, blocks = reminder_message(commitment_item(c, name), local.date())
        queued += _say(session, c, "reminder", c.owner_user_id, text, blocks, now)
        audit.record(
            session, c.team_id, "system", "commitment", c.id, "reminded", due=str(c.due_date)
        )
    if (
        not snoozed
        and c.due_date
        and c.overdue_notified_at is None
        and overdue_now(c.due_date, local, settings.workday_start_hour, settings.workday_numbers)
    ):
        c.overdue_notified_at = now
        account, name = account_name(session, c)
        csm = account.csm_user_id if account else None
        item = commitment_item(c, name)
        if c.owner_user_id and not owner_gone:
            text, blocks = overdue_owner_message(item, local.date())
            queued += _say(session, c, "overdue:owner", c.owner_user_id, text, blocks, now)
        if csm and csm != c.owner_user_id:
            text, blocks = overdue_csm_message(item, c.owner_user_id, local.date())
            queued += _say(session, c, "overdue:csm", csm, text, blocks, now)
        audit.record(
            session,
            c.team_id,
            "system",
            "commitment",
            c.id,
            "overdue_notified",
            due=str(c.due_date),
            csm=csm,
        )
    c.followup_at = next_followup_at(c, person, settings, now)
    session.add(c)
    return queued


def _say(
    session: Session,
    c: Commitment,
    what: str,
    user_id: str,
    text: str,
    blocks: list,
    now: dt.datetime,
) -> int:
    outbox.enqueue(
        session,
        c.team_id,
        f"commitment:{c.id}:{what}:{c.due_date}",
        user=user_id,
        text=text,
        blocks=blocks,
        kind="commitment_notice",
        entity=("commitment", c.id or 0),
        now=now,
    )
    return 1


def run_followups(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: reminders and overdue notices due at `now`; returns how many were queued."""
    with session_scope(rt.engine) as s:
        return sum(follow_up(s, c, rt.settings, now) for c in due_commitments(s, now, BATCH))


DUE_JOBS = [("commitment_followups", run_followups)]
