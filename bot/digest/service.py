"""The daily DM digest: every person with anything open gets one message a working day, at
their own local hour.

Exactly once per person per local day: a `DigestSend` row keyed (team, user, local date) is
claimed before sending (the unique key stops a second worker), marked `sent` after; a worker
that dies between the two leaves a claim whose lease runs out, and the next tick retries it.
Each tick sends at most `BATCH_PER_TICK` digests, so 5,000 people are spread over a few
minutes instead of bursting into Slack's rate limits (429s are retried by the WebClient,
honouring Retry-After; anything left over goes out on the next tick).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.commitments import service as cm
from bot.config import Settings
from bot.db import session_scope
from bot.digest.blocks import Item, Ref, settings_modal
from bot.models import (
    Account,
    Case,
    CaseStep,
    Commitment,
    DigestSend,
    Person,
    StepStatus,
)
from bot.people.service import timezone_of
from bot.slack.blocks.common import clip
from bot.states import Machine

log = logging.getLogger(__name__)
WAITING_STEP = (StepStatus.AWAITING, StepStatus.SCHEDULED)
DIGEST = Machine(
    "digest",
    DigestSend.__table__,  # type: ignore[attr-defined]
    {"sent": {"queued": "sent"}, "fail": {"queued": "failed"}},
)


class ItemError(ValueError):
    """A refused item action; the message is shown to the person who clicked."""


# --- pure time rules -----------------------------------------------------------------------


WEEKDAYS = frozenset({0, 1, 2, 3, 4})


def is_workday(day: dt.date, days: frozenset[int] = WEEKDAYS) -> bool:
    return day.weekday() in days


def previous_workday(day: dt.date, days: frozenset[int] = WEEKDAYS) -> dt.date:
    day -= dt.timedelta(days=1)
    while not is_workday(day, days):
        day -= dt.timedelta(days=1)
    return day


def local_now(person: Person | None, settings: Settings, now: dt.datetime) -> dt.datetime:
    return clock.as_utc(now).astimezone(timezone_of(person, settings.default_timezone))


def digest_hour_of(person: Person | None, settings: Settings) -> int:
    if person is not None and person.digest_hour is not None:
        return person.digest_hour
    return settings.digest_hour


def next_digest_at(person: Person | None, settings: Settings, now: dt.datetime) -> dt.datetime:
    """The first moment after `now` at which this person's digest hour strikes on a local
    working day (UTC)."""
    tz = timezone_of(person, settings.default_timezone)
    local = clock.as_utc(now).astimezone(tz)
    hour = digest_hour_of(person, settings)
    day = local.date()
    while True:
        moment = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
        if moment > local and is_workday(day, settings.workday_numbers):
            return moment.astimezone(dt.UTC)
        day += dt.timedelta(days=1)


def digest_due(person: Person | None, settings: Settings, now: dt.datetime) -> dt.date | None:
    """The local date whose digest is due at `now`, or None (weekend, too early, off, gone)."""
    if person is not None and (person.deactivated or not person.digest_enabled):
        return None
    local = local_now(person, settings, now)
    if not is_workday(local.date(), settings.workday_numbers) or local.hour < digest_hour_of(
        person, settings
    ):
        return None
    return local.date()


# --- what a person has open ----------------------------------------------------------------


def _accounts(session: Session, team_id: str, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.exec(
        select(Account).where(Account.team_id == team_id, col(Account.id).in_(wanted))
    )
    return {a.id: a.name for a in rows if a.id is not None}


def commitment_item(c: Commitment, account: str | None) -> Item:
    return Item("c", c.id or 0, c.status, c.text, c.due_date, account)


def open_items(session: Session, team_id: str, user_id: str, today: dt.date) -> list[Item]:
    """Open commitments (snoozed ones hidden until their date) and steps waiting on them."""
    commits = [
        c
        for c in cm.open_for(session, team_id, owner_user_id=user_id, limit=500)
        if c.snoozed_until is None or c.snoozed_until <= today
    ]
    steps = list(
        session.exec(
            select(CaseStep)
            .where(
                CaseStep.team_id == team_id,
                CaseStep.assignee_user_id == user_id,
                col(CaseStep.status).in_(WAITING_STEP),
            )
            .order_by(col(CaseStep.due_at), col(CaseStep.id))
            .limit(200)
        )
    )
    cases = {
        c.id: c
        for c in session.exec(
            select(Case).where(
                Case.team_id == team_id, col(Case.id).in_({s.case_id for s in steps} or {-1})
            )
        )
    }
    names = _accounts(
        session, team_id, [c.account_id for c in commits] + [c.account_id for c in cases.values()]
    )
    items = [commitment_item(c, names.get(c.account_id or 0)) for c in commits]
    for s in steps:
        case = cases.get(s.case_id)
        if case is None:
            continue
        due = clock.as_utc(s.due_at).date() if s.due_at else None
        detail = f"case #{case.id} · step {s.position} of {case.total_steps or '?'}"
        if s.status == StepStatus.AWAITING:
            detail += " · waiting for your answer"
        items.append(
            Item("s", s.id or 0, s.status, s.summary, due, names.get(case.account_id), detail)
        )
    return items


# --- settings (/commitments settings) -----------------------------------------------------


def settings_view(person: Person, default_hour: int = 9) -> dict:
    """The settings modal for `person` (callback_id `digest_settings`)."""
    hour = person.digest_hour if person.digest_hour is not None else default_hour
    return settings_modal(person.digest_enabled, hour)


def save_settings(
    session: Session, team_id: str, user_id: str, *, enabled: bool, hour: int
) -> Person:
    if not 0 <= hour <= 23:
        raise ItemError("Pick an hour between 00:00 and 23:00.")
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()
    if person is None:
        person = Person(team_id=team_id, slack_user_id=user_id, name=user_id)
    before = {"enabled": person.digest_enabled, "hour": person.digest_hour}
    person.digest_enabled, person.digest_hour = enabled, hour
    person.next_digest_at = None  # the digest job looks at this person again at once
    session.add(person)
    session.flush()
    audit.record(
        session,
        team_id,
        user_id,
        "person",
        person.id,
        "digest_settings",
        before=before,
        after={"enabled": enabled, "hour": hour},
    )
    return person


def settings_for(engine: Engine, settings: Settings, team_id: str, user_id: str) -> dict:
    """The settings modal for the person (`/commitments settings`)."""
    from bot.people.service import get_person

    with session_scope(engine) as session:
        return settings_view(get_person(session, team_id, user_id), settings.digest_hour)


def update_settings(
    engine: Engine, team_id: str, user_id: str, *, enabled: bool, hour: int
) -> None:
    with session_scope(engine) as session:
        save_settings(session, team_id, user_id, enabled=enabled, hour=hour)


# --- item actions (digest and App Home share them) ----------------------------------------


@dataclass(frozen=True)
class Outcome:
    note: str  # what the row says afterwards
    commitment_done: int | None = None  # → offer the close-the-loop note
    notify_user: str | None = None  # new owner / assignee to tell
    notify_text: str | None = None
    subject: str | None = None  # the item's text, for an answer that names it


def snooze_until(choice: str, today: dt.date) -> dt.date:
    return today + dt.timedelta(days=7 if choice == "1w" else 1)


def _step(session: Session, team_id: str, step_id: int) -> tuple[CaseStep, Case]:
    step = session.exec(
        select(CaseStep).where(CaseStep.team_id == team_id, CaseStep.id == step_id)
    ).first()
    case = session.get(Case, step.case_id) if step else None
    if step is None or case is None or case.team_id != team_id:
        raise ItemError("That case step no longer exists.")
    return step, case


def _may_change_step(step: CaseStep, case: Case, user_id: str, admins: set[str]) -> bool:
    return user_id in admins or user_id in {
        step.assignee_user_id,
        case.owner_user_id,
        case.reporter_user_id,
    }


def _checked_step(
    session: Session, team_id: str, ref: Ref, actor: str, admins: set[str]
) -> tuple[CaseStep, Case]:
    step, case = _step(session, team_id, ref.id)
    if not _may_change_step(step, case, actor, admins):
        raise ItemError("Only the step's assignee, the case owner or a CS admin can change it.")
    if step.status != ref.state:
        raise ItemError(f"This step is already {step.status}; nothing changed.")
    return step, case


def mark_done(session: Session, team_id: str, ref: Ref, actor: str, admins: set[str]) -> Outcome:
    if ref.kind == "c":
        try:
            cm.transition(
                session, team_id, ref.id, "done", actor, admins=admins, expected=ref.state
            )
        except cm.CommitmentError as exc:
            raise ItemError(str(exc)) from None
        subject = clip(cm.get(session, team_id, ref.id).text, 200)
        return Outcome(":white_check_mark: Done", commitment_done=ref.id, subject=subject)
    step, _ = _checked_step(session, team_id, ref, actor, admins)
    if step.status == StepStatus.AWAITING:
        raise ItemError(
            "This step is waiting for your Yes / No / Edit in its own message "
            "— answer it there so the case moves on."
        )
    raise ItemError("This step is not due yet; it will come to you with Yes / No / Edit.")


def snooze(
    session: Session,
    team_id: str,
    ref: Ref,
    actor: str,
    admins: set[str],
    until: dt.date,
    today: dt.date,
    settings: Settings,
) -> Outcome:
    if until <= today:
        raise ItemError(
            f"{until.isoformat()} is not in the future — pick a date after today "
            f"({today.isoformat()}) to snooze to."
        )
    if ref.kind == "c":
        c = cm.get(session, team_id, ref.id)
        if c.status != ref.state:
            raise ItemError(f"This commitment is already {c.status}; nothing changed.")
        try:
            cm.snooze(session, team_id, ref.id, actor, until, today, admins)
        except cm.CommitmentError as exc:
            raise ItemError(str(exc)) from None
        return Outcome(f":zzz: Snoozed until {until:%a %b} {until.day}", subject=clip(c.text, 200))
    step, _ = _checked_step(session, team_id, ref, actor, admins)
    if step.status != StepStatus.SCHEDULED:
        raise ItemError("This step is already waiting for your answer; it can't be snoozed.")
    person = session.exec(
        select(Person).where(
            Person.team_id == team_id, Person.slack_user_id == step.assignee_user_id
        )
    ).first()
    tz = timezone_of(person, settings.default_timezone)
    new_due = dt.datetime.combine(until, dt.time(settings.workday_start_hour), tz)
    before = step.due_at
    step.due_at, step.updated_at = new_due.astimezone(dt.UTC), clock.now()
    session.add(step)
    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "snoozed",
        before=clock.as_utc(before).isoformat() if before else None,
        until=step.due_at.isoformat(),
    )
    return Outcome(f":zzz: Moved to {until:%a %b} {until.day}")


def reassign(
    session: Session, team_id: str, ref: Ref, actor: str, admins: set[str], new_user: str
) -> Outcome:
    if not new_user:
        raise ItemError("Pick someone to hand this to.")
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == new_user)
    ).first()
    if person is not None and person.deactivated:
        raise ItemError(f"<@{new_user}>'s Slack account is deactivated; pick someone else.")
    if ref.kind == "c":
        c = cm.get(session, team_id, ref.id)
        if c.status != ref.state:
            raise ItemError(f"This commitment is already {c.status}; nothing changed.")
        try:
            c = cm.edit(
                session,
                team_id,
                ref.id,
                actor,
                admins=admins,
                owner_user_id=new_user,
                owner_name=person.real_name or person.name if person else "",
            )
        except cm.CommitmentError as exc:
            raise ItemError(str(exc)) from None
        text = c.text
    else:
        step, _ = _checked_step(session, team_id, ref, actor, admins)
        before = step.assignee_user_id
        step.assignee_user_id, step.updated_at = new_user, clock.now()
        session.add(step)
        audit.record(
            session,
            team_id,
            actor,
            "case_step",
            step.id,
            "reassigned",
            from_state=step.status,
            to_state=step.status,
            before=before,
            after=new_user,
        )
        text = step.summary
    return Outcome(
        f":bust_in_silhouette: Handed to <@{new_user}>",
        notify_user=new_user,
        notify_text=f"<@{actor}> handed you: *{text[:300]}*" if new_user != actor else None,
        subject=clip(text, 200),
    )


def act(
    engine: Engine,
    settings: Settings,
    team_id: str,
    actor: str,
    action_id: str,
    ref: Ref | None,
    value: str | None,
    now: dt.datetime,
) -> Outcome:
    """One click on an item row (digest or Home), in one transaction. `value` is the
    snooze choice, picked date (YYYY-MM-DD) or picked user, depending on the control."""
    from bot.digest.blocks import A_DONE, A_REASSIGN, A_SNOOZE, A_SNOOZE_DATE

    if ref is None:
        raise ItemError("That button is not one of ours; nothing changed.")
    admins = set(settings.cs_admins)
    with session_scope(engine) as session:
        person = session.exec(
            select(Person).where(Person.team_id == team_id, Person.slack_user_id == actor)
        ).first()
        today = local_now(person, settings, now).date()
        if action_id == A_DONE:
            return mark_done(session, team_id, ref, actor, admins)
        if action_id in (A_SNOOZE, A_SNOOZE_DATE):
            if action_id == A_SNOOZE:
                until = snooze_until(value or "1d", today)
            else:
                try:
                    until = dt.date.fromisoformat(value or "")
                except ValueError:
                    raise ItemError("Pick a date to snooze to.") from None
            return snooze(session, team_id, ref, actor, admins, until, today, settings)
        if action_id == A_REASSIGN:
            return reassign(session, team_id, ref, actor, admins, value or "")
    raise ItemError("Unknown action.")
