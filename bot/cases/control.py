"""Case control from `/case` and its card: pause, resume, reassign, skip ahead, note, close.

Each function checks who may act and the state the button was rendered in, changes rows in
one transaction with an audit row, and returns the messages to update afterwards (Outbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.cases import blocks as msgs
from bot.cases import engine as eng
from bot.cases.decisions import ask_close_or_extend, close_case
from bot.cases.records import (
    CaseError,
    Outbox,
    account_name,
    get_case,
    get_step,
    may_control,
    owner_of,
    person,
    risk_label,
    step_view,
    steps_of,
    tz_of,
    who_controls,
)
from bot.cases.steps import CASE, FINAL_STEP, STEP
from bot.cases.workhours import WorkHours, add_working_hours, next_working_moment
from bot.config import Settings
from bot.db import session_scope
from bot.models import OPEN_CASE_STATUSES, Case, CaseStatus, CaseStep, StepStatus
from bot.people.service import get_person
from bot.states import StateError, move


def _move_case(session: Session, case: Case, action: str) -> str:
    try:
        return move(session, CASE, case, action)
    except StateError as exc:
        raise CaseError(str(exc)) from None


def _move_step(session: Session, step: CaseStep, action: str, **values: object) -> str:
    try:
        return move(session, STEP, step, action, **values)
    except StateError as exc:
        raise CaseError(str(exc)) from None


def _controlled(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    expected: str | None,
) -> Case:
    case = get_case(session, team_id, case_id)
    if not may_control(session, case, actor, settings):
        raise CaseError(who_controls(case))
    if expected and case.status != expected:
        raise CaseError(f"Case #{case_id} is {case.status.replace('_', ' ')} now; nothing changed.")
    return case


def _touch(
    session: Session,
    case: Case,
    actor: str,
    action: str,
    before: str,
    now: dt.datetime,
    **detail: object,
) -> None:
    case.updated_at = now
    session.add(case)
    audit.record(
        session,
        case.team_id,
        actor,
        "case",
        case.id,
        action,
        from_state=before,
        to_state=case.status,
        **detail,
    )


def pause(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    now = now or clock.now()
    case = _controlled(session, team_id, case_id, actor, settings, expected)
    before = _move_case(session, case, "pause")
    _touch(session, case, actor, "paused", before, now)
    return Outbox(session, case, now)


def resume(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    """Running again; overdue steps wait for the assignee's working hours, reminders restart."""
    now = now or clock.now()
    case = _controlled(session, team_id, case_id, actor, settings, expected)
    before = _move_case(session, case, "resume")
    hours = WorkHours.from_settings(settings)
    for step in steps_of(session, case):
        tz = tz_of(session, team_id, step.assignee_user_id or owner_of(case), settings)
        if step.status == StepStatus.SCHEDULED and step.due_at and clock.as_utc(step.due_at) < now:
            step.due_at = next_working_moment(now, tz, hours)
        elif step.status == StepStatus.AWAITING and step.escalated_at is None:
            wait = (
                settings.reminder_hours
                if step.reminded_at is None
                else max(0.0, settings.escalate_hours - settings.reminder_hours)
            )
            step.due_at = add_working_hours(now, wait, tz, hours)
        session.add(step)
    _touch(session, case, actor, "resumed", before, now)
    return Outbox(session, case, now)


def resolve(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    outcome: str,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    """Resolved — saved or churned, at any point of the case."""
    case = _controlled(session, team_id, case_id, actor, settings, expected)
    if outcome not in {"saved", "churned"}:
        raise CaseError(f"Unknown outcome {outcome!r}.")
    return close_case(session, case, outcome, actor, now or clock.now())


def add_note(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    text: str,
    now: dt.datetime | None = None,
) -> Outbox:
    now = now or clock.now()
    case = get_case(session, team_id, case_id)
    if not may_control(session, case, actor, settings):
        raise CaseError(who_controls(case))
    text = " ".join(text.split())[:2000]
    if not text:
        raise CaseError("The note is empty.")
    line = f"{now.date().isoformat()} <@{actor}>: {text}"
    case.notes = f"{case.notes.rstrip()}\n{line}".strip()
    case.updated_at = now
    session.add(case)
    audit.record(session, team_id, actor, "case", case.id, "note", note=text)
    return Outbox(session, case, now)


def skip_ahead(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    """Skip the current step (if still open) and schedule the next one now."""
    now = now or clock.now()
    case = _controlled(session, team_id, case_id, actor, settings, expected)
    if case.status != CaseStatus.RUNNING:
        raise CaseError(f"Case #{case_id} is {case.status.replace('_', ' ')}; resume it first.")
    steps = steps_of(session, case)
    outbox = Outbox(session, case, now)
    current = next((x for x in steps if x.position == case.current_step), None)
    if current is not None and current.status == StepStatus.SENDING:
        raise CaseError("That step is being delivered right now; try again in a minute.")
    if current is not None and current.status not in FINAL_STEP:
        view = step_view(session, case, current)
        was = _move_step(
            session,
            current,
            "skip",
            decision="no",
            decided_by=actor,
            decided_at=now,
            reason="skipped ahead",
            due_at=None,
            updated_at=now,
        )
        if was == StepStatus.AWAITING:
            outbox.update(
                current,
                *msgs.step_settled(view, f"⏭️ Skipped ahead by <@{actor}> on {msgs.when(now)}."),
            )
        audit.record(
            session,
            team_id,
            actor,
            "case_step",
            current.id,
            "skipped_ahead",
            from_state=was,
            to_state=current.status,
            case_id=case.id,
        )
    nxt = next(
        (
            x
            for x in steps
            if x.status == StepStatus.PLANNED and x.position > (case.current_step or 0)
        ),
        None,
    )
    if nxt is None:
        before = _move_case(session, case, "await_close")
        _touch(session, case, actor, "awaiting_close", before, now)
        ask_close_or_extend(session, case, outbox)
        return outbox
    eng.schedule_step(session, case, nxt, now, settings, actor=actor, with_delay=False)
    return outbox


def may_reassign(session: Session, case: Case, actor: str, settings: Settings) -> bool:
    """Owner, reporter, CS admins — and the owner's manager, who is told on escalation."""
    if may_control(session, case, actor, settings):
        return True
    owner = person(session, case.team_id, owner_of(case))
    return bool(owner and owner.manager_user_id == actor)


def reassign_step(
    session: Session,
    team_id: str,
    step_id: int,
    new_user: str,
    actor: str,
    settings: Settings,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    """Give a step to someone else; an awaiting step is DMed to them by the worker."""
    now = now or clock.now()
    step = get_step(session, team_id, step_id)
    case = get_case(session, team_id, step.case_id)
    if not may_reassign(session, case, actor, settings):
        raise CaseError(who_controls(case).replace("can change", "can reassign"))
    if expected and step.status != expected:
        raise CaseError(f"This step is {step.status} now; nothing changed.")
    if person(session, team_id, new_user) is None and not new_user.startswith(("U", "W")):
        raise CaseError("Pick a person from this workspace.")
    before_user = step.assignee_user_id
    view = step_view(session, case, step)
    outbox = Outbox(session, case, now)
    if step.status == StepStatus.AWAITING:  # its live DM says where the step went
        outbox.update(
            step,
            *msgs.step_settled(
                view, f"↪️ Reassigned to <@{new_user}> by <@{actor}> on {msgs.when(now)}."
            ),
        )
    values: dict[str, object] = {
        "assignee_user_id": new_user,
        "assignee_fallback": False,
        "updated_at": now,
    }
    if step.status in (StepStatus.SCHEDULED, StepStatus.AWAITING):
        tz = tz_of(session, team_id, new_user, settings)
        base = now if step.status == StepStatus.AWAITING else clock.as_utc(step.due_at or now)
        values["due_at"] = next_working_moment(
            max(base, now), tz, WorkHours.from_settings(settings)
        )
        values.update(
            reminded_at=None,
            escalated_at=None,
            lease_until=None,
            message_key=None,
            dm_channel=None,
            dm_ts=None,
        )
    was = _move_step(session, step, "reassign", **values)
    get_person(session, team_id, new_user)  # so their digest finds them
    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "reassigned",
        from_state=was,
        to_state=step.status,
        case_id=case.id,
        before=before_user,
        after=new_user,
    )
    return outbox


def reassign_current(
    session: Session,
    team_id: str,
    case_id: int,
    new_user: str,
    actor: str,
    settings: Settings,
    expected: str | None = None,
    now: dt.datetime | None = None,
) -> Outbox:
    case = _controlled(session, team_id, case_id, actor, settings, expected)
    steps = [x for x in steps_of(session, case) if x.status not in FINAL_STEP]
    current = next((x for x in steps if x.position >= (case.current_step or 0)), None)
    if current is None:
        raise CaseError("No open step to reassign.")
    return reassign_step(session, team_id, current.id or 0, new_user, actor, settings, None, now)


# --- reading ------------------------------------------------------------------------------


def card(session: Session, team_id: str, case_id: int) -> msgs.CaseCard:
    case = get_case(session, team_id, case_id)
    lines = [
        msgs.StepLine(
            x.position,
            x.summary,
            x.medium,
            x.assignee_user_id or owner_of(case),
            x.status,
            _utc(x.due_at),
            x.decided_by,
            x.decision,
            _utc(x.decided_at),
            x.reason,
        )
        for x in steps_of(session, case)
    ]
    return msgs.CaseCard(
        case_id=case.id or 0,
        account=account_name(session, case),
        risk=risk_label(session, case),
        status=case.status,
        outcome=case.outcome,
        owner=owner_of(case),
        why=case.context,
        current_step=case.current_step,
        total_steps=case.total_steps or len(lines),
        steps=lines,
        notes=case.notes,
        opened_at=_utc(case.opened_at),
        resolved_at=_utc(case.resolved_at),
        resolution_step=case.resolution_step,
        reporter=case.reporter_user_id,
        playbooks=playbooks_used(case),
        crm=_crm_line(session, case),
    )


def _crm_line(session: Session, case: Case) -> str:
    """The CRM link as it is now (the record may have been deleted since the report)."""
    from bot.cases.plan_blocks import crm_line
    from bot.crm.service import account_crm

    link = account_crm(session, case.team_id, case.account_id)
    if link is None:
        return ""
    facts = {
        "crm": link.label,
        "crm_url": link.url,
        "crm_synced_at": link.synced_at.isoformat() if link.synced_at else None,
    }
    return crm_line(facts, link.deleted_at.date().isoformat() if link.deleted_at else None)


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    return clock.as_utc(at) if at else None


def playbooks_used(case: Case) -> list[str]:
    """`key vN` of the case's playbook, then of each playbook it was extended with."""
    used = [f"{case.risk_key} v{case.playbook_version}"]
    for ext in (case.gathered or {}).get("extensions") or []:
        if isinstance(ext, dict) and ext.get("key"):
            used.append(f"{ext['key']} v{ext.get('version', 1)}")
    return used


def open_cases(session: Session, team_id: str, limit: int = 40) -> list[msgs.CaseCard]:
    rows = session.exec(
        select(Case)
        .where(Case.team_id == team_id, col(Case.status).in_(OPEN_CASE_STATUSES))
        .order_by(col(Case.id).desc())
        .limit(limit)
    )
    return [card(session, team_id, c.id or 0) for c in rows]


# --- one-transaction wrappers for the Slack layer ------------------------------------------


CONTROLS: dict[str, tuple[Callable[..., Outbox], dict[str, str]]] = {
    "pause": (pause, {}),
    "resume": (resume, {}),
    "skip": (skip_ahead, {}),
    "saved": (resolve, {"outcome": "saved"}),
    "churned": (resolve, {"outcome": "churned"}),
}


def case_card(engine: Engine, team_id: str, case_id: int) -> msgs.CaseCard:
    with session_scope(engine) as session:
        return card(session, team_id, case_id)


def case_list(engine: Engine, team_id: str) -> list[msgs.CaseCard]:
    with session_scope(engine) as session:
        return open_cases(session, team_id)


def control_case(
    engine: Engine,
    what: str,
    team_id: str,
    case_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
) -> tuple[Outbox, msgs.CaseCard]:
    """One control from the card (`CONTROLS`), then the card as it is now."""
    change, extra = CONTROLS[what]
    with session_scope(engine) as session:
        outbox = change(session, team_id, case_id, actor, settings, expected=expected, **extra)
    return outbox, case_card(engine, team_id, case_id)


def reassign(
    engine: Engine,
    team_id: str,
    new_user: str,
    actor: str,
    settings: Settings,
    *,
    step_id: int | None = None,
    case_id: int | None = None,
    expected: str | None = None,
) -> Outbox:
    """Reassign one step (`step_id`), or the case's current step (`case_id`)."""
    with session_scope(engine) as session:
        if step_id is not None:
            return reassign_step(session, team_id, step_id, new_user, actor, settings, expected)
        return reassign_current(session, team_id, case_id or 0, new_user, actor, settings, expected)


def note_form(engine: Engine, team_id: str, case_id: int, actor: str, settings: Settings) -> dict:
    """The "Add a note" modal, if `actor` may control the case."""
    with session_scope(engine) as session:
        case = get_case(session, team_id, case_id)
        if not may_control(session, case, actor, settings):
            raise CaseError(who_controls(case))
        return msgs.note_modal(case_id, account_name(session, case))


def note(
    engine: Engine, team_id: str, case_id: int, actor: str, settings: Settings, text: str
) -> Outbox:
    with session_scope(engine) as session:
        return add_note(session, team_id, case_id, actor, settings, text)
