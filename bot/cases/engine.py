"""The step engine: steps fall due, reach their assignee, get chased; decisions are carried out.

Everything due lives in `CaseStep.due_at` — "when must a worker next look at this row":
  scheduled → when the step falls due;  awaiting → when the reminder (then the escalation)
  is due; NULL → nothing more to do. One index, (status, due_at), answers every "what is due
  now" question, so a tick with nothing due is a single index probe per job.

Nothing here talks to Slack. Each change is one transaction that moves the step through the
state table (`bot.cases.steps.STEP`) and writes the messages it causes into the outbox
(`bot.outbox`), which sends each exactly once. The due rows are locked (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, the database lock on SQLite), so two workers never take the same step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlmodel import Session, col, select

from bot import audit
from bot.cases import blocks as msgs
from bot.cases.records import (
    CaseError,
    Outbox,
    assignee_of,
    get_case,
    owner_of,
    person,
    step_view,
    steps_of,
    tz_of,
)
from bot.cases.steps import CASE, STEP, Delivery, delivery_for
from bot.cases.workhours import (
    WorkHours,
    add_working_hours,
    is_working_moment,
    next_working_moment,
)
from bot.config import Settings
from bot.email import split_subject
from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.outbox import service as outbox
from bot.states import StateError, move
from bot.workspaces.service import active_only

S = StepStatus
DUE_BATCH = 200
NOBODY_RETRY = dt.timedelta(hours=1)
STEP_TABLE = CaseStep.__table__  # type: ignore[attr-defined]
CASE_TABLE = Case.__table__  # type: ignore[attr-defined]


# --- keys of the messages a step causes --------------------------------------------------


def _took(session: Session, step: CaseStep, action: str, **values: object) -> bool:
    """Move a due step we selected; False if another worker got to it first (on SQLite the
    select does not lock; on PostgreSQL SKIP LOCKED makes this rare)."""
    try:
        move(session, STEP, step, action, **values)
    except StateError:
        return False
    return True


def _due_rows(
    session: Session, statuses: Iterable[str], now: dt.datetime, limit: int
) -> list[CaseStep]:
    """Due steps of running cases, locked for this transaction (skipping rows another
    worker holds)."""
    stmt = (
        select(CaseStep)
        .join(Case, col(Case.id) == col(CaseStep.case_id))
        .where(
            col(CaseStep.status).in_(list(statuses)),
            col(CaseStep.due_at) <= now,
            Case.status == CaseStatus.RUNNING,
            active_only(col(CaseStep.team_id)),  # nothing for a workspace that uninstalled
        )
        .order_by(col(CaseStep.due_at), col(CaseStep.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=CaseStep)
    return list(session.exec(stmt))


# --- starting and scheduling ------------------------------------------------------------


def schedule_step(
    session: Session,
    case: Case,
    step: CaseStep,
    now: dt.datetime,
    settings: Settings,
    *,
    actor: str = "system",
    with_delay: bool = True,
) -> dt.datetime:
    """planned → scheduled at now + delay, moved into the assignee's working hours."""
    tz = tz_of(session, case.team_id, assignee_of(case, step), settings)
    raw = now + dt.timedelta(seconds=step.delay_seconds if with_delay else 0)
    due = next_working_moment(raw, tz, WorkHours.from_settings(settings))
    before = move(
        session,
        STEP,
        step,
        "schedule",
        due_at=due,
        lease_until=None,
        reminded_at=None,
        escalated_at=None,
        updated_at=now,
    )
    case.current_step = step.position
    case.updated_at = now
    session.add(case)
    audit.record(
        session,
        case.team_id,
        actor,
        "case_step",
        step.id,
        "scheduled",
        from_state=before,
        to_state=step.status,
        case_id=case.id,
        position=step.position,
        due_at=due.isoformat(),
    )
    return due


def start_case(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    now: dt.datetime,
    *,
    settings: Settings,
) -> Case:
    """Start a planned case: running, step 1 scheduled after its delay in working hours.

    A second Start (double click, two people) finds the case no longer planned: CaseError.
    """
    case = get_case(session, team_id, case_id)
    CASE.to("start", case.status)
    steps = [s for s in steps_of(session, case) if s.status == S.PLANNED]
    if not steps:
        raise CaseError(f"Case #{case_id} has no planned steps to run.")
    try:
        move(session, CASE, case, "start", started_at=now, updated_at=now)
    except StateError:
        raise CaseError(f"Case #{case_id} was already started.") from None
    case.total_steps = len(steps)  # the steps that will run: dropped ones are not counted
    audit.record(
        session,
        team_id,
        actor,
        "case",
        case.id,
        "started",
        from_state=CaseStatus.PLANNED,
        to_state=CaseStatus.RUNNING,
    )
    schedule_step(session, case, steps[0], now, settings, actor=actor)
    return case


# --- due steps → their DM ------------------------------------------------------------------


def queue_due_steps(session: Session, now: dt.datetime, settings: Settings) -> int:
    """Each due step's DM goes to the outbox (the step is then awaiting its decision);
    off-hours steps wait for the assignee's working day. Returns how many DMs were queued."""
    hours = WorkHours.from_settings(settings)
    queued = 0
    cases: dict[int, Case] = {}
    for step in _due_rows(session, (S.SCHEDULED,), now, DUE_BATCH):
        case = cases.get(step.case_id) or session.get(Case, step.case_id)
        if case is None or case.team_id != step.team_id:
            continue
        cases[step.case_id] = case
        who = assignee_of(case, step)
        tz = tz_of(session, step.team_id, who, settings)
        if who is None or not is_working_moment(now, tz, hours):
            later = next_working_moment(now, tz, hours) if who else now + NOBODY_RETRY
            if not _took(session, step, "defer", due_at=later, updated_at=now):
                continue
            if who is None:
                audit.record(
                    session,
                    step.team_id,
                    "system",
                    "case_step",
                    step.id,
                    "dm_failed",
                    error="nobody to DM",
                    retry_at=later.isoformat(),
                )
            continue
        key = f"step:{step.id}:dm:{step.attempts + 1}"
        if not _took(
            session,
            step,
            "queue_dm",
            attempts=step.attempts + 1,
            message_key=key,
            dm_channel=None,
            dm_ts=None,
            due_at=None,  # the reminder clock starts when the DM lands (`chase_from`)
            updated_at=now,
        ):
            continue
        outbox.enqueue(
            session,
            step.team_id,
            key,
            user=who,
            kind="step_dm",
            entity=("case_step", step.id or 0),
            now=now,
        )
        Outbox(session, case, now)  # the card now shows the step awaiting its decision
        queued += 1
    return queued


# --- reminders and escalations ----------------------------------------------------------


def chase_from(session: Session, step: CaseStep, landed: dt.datetime, settings: Settings) -> None:
    """Its DM (or reminder) just reached the assignee: the reminder (or escalation) is due
    that many working hours later, counted from now, not from when it was queued."""
    case = session.get(Case, step.case_id)
    if case is None:
        return
    hours = WorkHours.from_settings(settings)
    tz = tz_of(session, step.team_id, assignee_of(case, step), settings)
    if step.escalated_at is not None:
        return
    wait = (
        settings.reminder_hours
        if step.reminded_at is None
        else max(0.0, settings.escalate_hours - settings.reminder_hours)
    )
    move(session, STEP, step, "follow_up", due_at=add_working_hours(landed, wait, tz, hours))


def queue_followups(session: Session, now: dt.datetime, settings: Settings) -> int:
    """One reminder after STEP_REMINDER_AFTER working hours, then one escalation to the case
    owner and their manager after STEP_ESCALATE_AFTER."""
    done = 0
    for step in _due_rows(session, (S.AWAITING,), now, DUE_BATCH):
        case = session.get(Case, step.case_id)
        if case is None or case.team_id != step.team_id:
            continue
        team_id, who = step.team_id, assignee_of(case, step)
        if step.reminded_at is None and who:
            old = step.message_key
            key = f"step:{step.id}:reminder:{step.attempts + 1}"
            if not _took(
                session,
                step,
                "follow_up",
                attempts=step.attempts + 1,
                message_key=key,
                reminded_at=now,
                due_at=None,  # the escalation clock starts when the reminder lands
                updated_at=now,
            ):
                continue
            outbox.enqueue(
                session,
                team_id,
                key,
                user=who,
                kind="step_dm",
                entity=("case_step", step.id or 0),
                now=now,
            )
            if old:
                view = step_view(session, case, step)
                text, blocks = msgs.step_settled(view, "⏰ Reminder posted below — decide there.")
                outbox.enqueue_update(session, team_id, old, text=text, blocks=blocks, now=now)
            audit.record(session, team_id, "system", "case_step", step.id, "reminded", to=who)
            done += 1
        elif step.escalated_at is None:
            owner = owner_of(case)
            owner_person = person(session, team_id, owner)
            manager = owner_person.manager_user_id if owner_person else None
            told = [u for u in dict.fromkeys([owner, manager]) if u]
            view = step_view(session, case, step)
            text, blocks = msgs.escalation(view, settings.escalate_hours, manager)
            if not _took(session, step, "follow_up", escalated_at=now, due_at=None, updated_at=now):
                continue
            for user_id in told:
                outbox.enqueue(
                    session,
                    team_id,
                    f"step:{step.id}:escalation:{user_id}",
                    user=user_id,
                    text=text,
                    blocks=blocks,
                    kind="step_notice",
                    entity=("case_step", step.id or 0),
                    now=now,
                )
            audit.record(
                session,
                team_id,
                "system",
                "case_step",
                step.id,
                "escalated",
                told=told,
                waited_hours=settings.escalate_hours,
            )
            done += 1
        else:
            _took(session, step, "follow_up", due_at=None)
    return done


# --- carrying out a decision ------------------------------------------------------------


def _subject(case: Case, step: CaseStep, account: str) -> str:
    plan = (case.gathered or {}).get("plan") or []
    for meta in plan if isinstance(plan, list) else []:
        if isinstance(meta, dict) and meta.get("position") == step.position and meta.get("subject"):
            return str(meta["subject"])
    return f"{account}: {step.summary}"


def queue_delivery(
    session: Session,
    case: Case,
    step: CaseStep,
    settings: Settings,
    account: str,
    now: dt.datetime,
) -> str:
    """A Yes on a step the app carries out: the message to its recipient goes to the outbox
    (kind `step_delivery`: its hooks mark the step done, or undeliverable). Returns its key."""
    kind = delivery_for(step.medium, step.recipient_ref, bool(settings.smtp_url))
    text, target = step.final_text or step.draft, step.recipient_ref or ""
    key = f"step:{step.id}:delivery:{step.attempts}"
    entity = ("case_step", step.id or 0)
    if kind is Delivery.SLACK_USER:
        outbox.enqueue(
            session,
            step.team_id,
            key,
            user=target,
            text=text,
            kind="step_delivery",
            entity=entity,
            now=now,
        )
    elif kind is Delivery.SLACK_CHANNEL:
        outbox.enqueue(
            session,
            step.team_id,
            key,
            channel=target,
            text=text,
            kind="step_delivery",
            entity=entity,
            now=now,
        )
    elif kind is Delivery.SMTP:
        subject, body = split_subject(text, _subject(case, step, account))
        sender = person(session, step.team_id, step.decided_by)
        email = {"to": target, "subject": subject, "sender": (sender.email if sender else "") or ""}
        outbox.enqueue(
            session,
            step.team_id,
            key,
            email=email,
            text=body,
            kind="step_delivery",
            entity=entity,
            now=now,
        )
    else:
        raise ValueError(f"nothing to deliver for {kind}")
    return key


def settled_headline(step: CaseStep, kind: Delivery) -> str:
    target = step.recipient_ref or ""
    delivered = None
    if step.delivered_ts and kind is Delivery.SLACK_CHANNEL:
        delivered = f"<#{target}>" if target[:1] in {"C", "G"} else target
    elif step.delivered_ts and kind is Delivery.SLACK_USER:
        delivered = f"<@{target}>"
    elif step.delivered_ts and kind is Delivery.SMTP:
        delivered = f"{target} by email"
    return msgs.decided_headline(
        step.decision or "yes",
        step.decided_by or "system",
        step.decided_at or step.updated_at,
        delivered_to=delivered,
        reason=step.reason,
        by_hand=kind is Delivery.BY_HAND and step.decision != "no",
    )


def after_settled(
    session: Session, case: Case, step: CaseStep, settings: Settings, now: dt.datetime
) -> None:
    """The step is done or skipped: its DM says so, and whoever decided is asked whether the
    risk is resolved (if the case is still at this step)."""
    out = Outbox(session, case, now)
    view = step_view(session, case, step)
    kind = delivery_for(step.medium, step.recipient_ref, bool(settings.smtp_url))
    extra = []
    if step.medium == "email" and kind is Delivery.BY_HAND and step.decision != "no":
        subject, body = split_subject(
            step.final_text or step.draft, _subject(case, step, view.account)
        )
        extra = msgs.email_ready_blocks(step.recipient_ref, subject, body)
    out.update(step, *msgs.step_settled(view, settled_headline(step, kind), extra))
    if case.status == CaseStatus.RUNNING and case.current_step == step.position:
        asked = step.decided_by or assignee_of(case, step)
        if asked:
            outbox.enqueue(
                session,
                case.team_id,
                f"step:{step.id}:resolved?",
                user=asked,
                kind="resolution_question",
                entity=("case_step", step.id or 0),
                now=now,
            )


def cancel_open_steps(session: Session, case: Case, actor: str, now: dt.datetime) -> None:
    """Stand down every step still open (the case closed); an awaiting step's DM says so.
    A step being delivered finishes its delivery."""
    word = msgs.ANSWER_WORDS.get(case.outcome, case.outcome)
    out = Outbox(session, case, now)
    for step in steps_of(session, case):
        if step.status not in STEP.transitions["cancel"]:
            continue
        was = move(session, STEP, step, "cancel", due_at=None, lease_until=None, updated_at=now)
        if was == S.AWAITING:
            out.update(
                step,
                *msgs.step_settled(
                    step_view(session, case, step),
                    f"Case closed ({word}) by <@{actor}> — nothing more to do here.",
                ),
            )
        audit.record(
            session,
            case.team_id,
            actor,
            "case_step",
            step.id,
            "cancelled",
            from_state=was,
            to_state=S.CANCELLED,
            case_id=case.id,
        )
