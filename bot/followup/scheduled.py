"""Scheduled: the day-before reminder and the overdue notice, each sent once."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.db import session_scope
from bot.digest.service import commitment_item, is_workday, local_now, previous_workday
from bot.followup.blocks import (
    overdue_csm_message,
    overdue_owner_message,
    reminder_message,
)
from bot.followup.service import BATCH, account_name
from bot.models import (
    Commitment,
    CommitmentStatus,
    Person,
)
from bot.notify import DeliveryError, Notifier
from bot.runtime import Runtime
from bot.workspaces.service import active_only

log = logging.getLogger(__name__)


def reminder_due(due: dt.date, local: dt.datetime, start_hour: int) -> bool:
    """True from the start of the working day before `due` until `due` itself."""
    today = local.date()
    return is_workday(today) and local.hour >= start_hour and previous_workday(due) <= today < due


def overdue_now(due: dt.date, local: dt.datetime, start_hour: int) -> bool:
    """Overdue once the due date has passed; told during the owner's working day."""
    return local.date() > due and is_workday(local.date()) and local.hour >= start_hour


def _people(session: Session, team_ids: set[str], user_ids: set[str]) -> dict[tuple, Person]:
    if not user_ids:
        return {}
    rows = session.exec(
        select(Person).where(
            col(Person.team_id).in_(team_ids), col(Person.slack_user_id).in_(user_ids)
        )
    )
    return {(p.team_id, p.slack_user_id): p for p in rows}


def _candidates(session: Session, now: dt.datetime, extra: object) -> list[Commitment]:
    near = clock.as_utc(now).date()
    stmt = select(Commitment).where(
        Commitment.status == CommitmentStatus.OPEN,
        col(Commitment.due_date).is_not(None),
        active_only(col(Commitment.team_id)),
        extra,  # type: ignore[arg-type]
    )
    rows = list(session.exec(stmt.order_by(col(Commitment.due_date)).limit(5 * BATCH)))
    return [c for c in rows if c.due_date and c.due_date <= near + dt.timedelta(days=5)]


def _claim(
    engine: Engine,
    commitment_id: int,
    values: dict,
    unclaimed: object,
    action: str,
    team_id: str,
    **detail: object,
) -> bool:
    with session_scope(engine) as session:
        result = session.execute(
            update(Commitment)
            .where(
                col(Commitment.id) == commitment_id,
                col(Commitment.status) == CommitmentStatus.OPEN,
                unclaimed,
            )  # type: ignore[arg-type]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        audit.record(session, team_id, "system", "commitment", commitment_id, action, **detail)
        return True


def _release(engine: Engine, commitment_id: int, values: dict) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Commitment)
            .where(col(Commitment.id) == commitment_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def run_reminders(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: "due tomorrow" DMs to owners, once per due date."""
    settings = rt.settings
    with session_scope(rt.engine) as session:
        rows = _candidates(
            session,
            now,
            or_(
                col(Commitment.reminded_for).is_(None),
                col(Commitment.reminded_for) != col(Commitment.due_date),
            ),
        )
        rows = [c for c in rows if c.owner_user_id]
        people = _people(session, {c.team_id for c in rows}, {c.owner_user_id or "" for c in rows})
        todo = []
        for c in rows:
            person = people.get((c.team_id, c.owner_user_id))
            if person is not None and person.deactivated:
                continue
            local = local_now(person, settings, now)
            if c.snoozed_until and c.snoozed_until > local.date():
                continue
            if c.due_date and reminder_due(c.due_date, local, settings.workday_start_hour):
                todo.append((c, local.date(), account_name(session, c)[1]))
    sent = 0
    for c, today, account in todo[:BATCH]:
        if not _claim(
            rt.engine,
            c.id or 0,
            {"reminded_for": c.due_date},
            or_(col(Commitment.reminded_for).is_(None), col(Commitment.reminded_for) != c.due_date),
            "reminded",
            c.team_id,
            due=str(c.due_date),
        ):
            continue
        text, blocks = reminder_message(commitment_item(c, account), today)
        try:
            notifier.dm(c.team_id, c.owner_user_id or "", text, blocks)
            sent += 1
        except DeliveryError as exc:
            if exc.retryable:
                _release(rt.engine, c.id or 0, {"reminded_for": None})
            log.warning("reminder for commitment %s not delivered: %s", c.id, exc.code)
    return sent


def run_overdue(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: tell the owner and the account's CSM once when a commitment goes overdue."""
    settings = rt.settings
    with session_scope(rt.engine) as session:
        rows = _candidates(session, now, col(Commitment.overdue_notified_at).is_(None))
        owners = {c.owner_user_id for c in rows if c.owner_user_id}
        people = _people(session, {c.team_id for c in rows}, owners)
        todo = []
        for c in rows:
            person = people.get((c.team_id, c.owner_user_id))
            local = local_now(person, settings, now)
            if c.snoozed_until and c.snoozed_until > local.date():
                continue
            if c.due_date and overdue_now(c.due_date, local, settings.workday_start_hour):
                account, name = account_name(session, c)
                gone = person is not None and person.deactivated
                todo.append((c, local.date(), name, account.csm_user_id if account else None, gone))
    told = 0
    for c, today, account, csm, owner_gone in todo[:BATCH]:
        if not _claim(
            rt.engine,
            c.id or 0,
            {"overdue_notified_at": now},
            col(Commitment.overdue_notified_at).is_(None),
            "overdue_notified",
            c.team_id,
            due=str(c.due_date),
            csm=csm,
        ):
            continue
        item = commitment_item(c, account)
        retry = False
        if c.owner_user_id and not owner_gone:
            retry |= _try_dm(
                notifier, c.team_id, c.owner_user_id, *overdue_owner_message(item, today)
            )
        if csm and csm != c.owner_user_id:
            retry |= _try_dm(
                notifier, c.team_id, csm, *overdue_csm_message(item, c.owner_user_id, today)
            )
        if retry:
            _release(rt.engine, c.id or 0, {"overdue_notified_at": None})
        else:
            told += 1
    return told


def _try_dm(notifier: Notifier, team_id: str, user_id: str, text: str, blocks: list) -> bool:
    """Send; True when a retryable failure means the notice should be tried again."""
    try:
        notifier.dm(team_id, user_id, text, blocks)
        return False
    except DeliveryError as exc:
        log.warning("follow-up DM to %s failed: %s", user_id, exc.code)
        return exc.retryable


DUE_JOBS = [("commitment_reminders", run_reminders), ("commitment_overdue", run_overdue)]
