"""A person's answers: Yes / No / Edit on a step, then "Is the risk resolved?".

Every decision is one conditional UPDATE (`WHERE status = 'awaiting'`): of two clicks on Yes
only one changes the row, so only one message is ever sent; the other click is told who
decided. The resolution answer is guarded the same way on `Case.current_step`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from bot import audit, clock
from bot.cases import engine as eng
from bot.cases import step_messages as msgs
from bot.cases.planning import extension_choices
from bot.cases.records import (
    CaseError,
    Outbox,
    get_case,
    get_step,
    may_decide,
    owner_of,
    step_view,
    steps_of,
    who_decides,
)
from bot.cases.steps import (
    CLOSED_CASE,
    FINAL_STEP,
    OUTCOME,
    after_answer,
    after_decision,
    delivery_for,
    next_case_state,
)
from bot.config import Settings
from bot.crm.service import case_closed
from bot.db import session_scope
from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.notify import Notifier
from bot.runtime import Runtime

S = StepStatus
DECISIONS = ("yes", "edit", "no")


def parse_value(value: str | None) -> tuple[int, str]:
    """'<id>:<expected state>' from a button; CaseError when it is not ours."""
    ident, _, expected = (value or "").partition(":")
    if not ident.isdigit():
        raise CaseError("That button is not recognised any more.")
    return int(ident), expected


def _stale(step: CaseStep) -> str:
    if step.decided_by and step.decision:
        word = {"yes": "Yes", "edit": "Edit", "no": "No"}.get(step.decision, step.decision)
        return (
            f"This step was already decided ({word}) by <@{step.decided_by}>; "
            "nothing was sent again."
        )
    return f"This step is {step.status} now; nothing changed."


def check_decidable(
    session: Session,
    team_id: str,
    step_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
) -> msgs.StepView:
    """Who may decide, and whether the step still waits: raises CaseError with the answer."""
    step = get_step(session, team_id, step_id)
    case = get_case(session, team_id, step.case_id)
    if not may_decide(session, case, step, actor, settings):
        raise CaseError(who_decides(case, step))
    if step.status != S.AWAITING or (expected and expected != step.status):
        raise CaseError(_stale(step))
    if case.status != CaseStatus.RUNNING:
        raise CaseError(
            f"Case #{case.id} is {case.status.replace('_', ' ')}; resume it before deciding a step."
        )
    return step_view(session, case, step)


def decide(
    rt: Runtime,
    notifier: Notifier,
    team_id: str,
    step_id: int,
    actor: str,
    action: str,
    *,
    expected: str | None = None,
    text: str | None = None,
    recipient: str | None = None,
    recipient_label: str | None = None,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> str | None:
    """Yes / Edit / No on a step. Raises CaseError when refused; returns a note for the
    decider when the message could not be sent yet (None when all went through)."""
    if action not in DECISIONS:
        raise CaseError(f"Unknown decision {action!r}.")
    now = now or clock.now()
    settings = rt.settings
    with session_scope(rt.engine) as s:
        check_decidable(s, team_id, step_id, actor, settings, expected)
        step = get_step(s, team_id, step_id)
        new_ref = recipient.strip() if recipient and recipient.strip() else step.recipient_ref
        kind = delivery_for(step.medium, new_ref, bool(settings.smtp_url))
        status = after_decision(action, kind)
        final = None
        if action != "no":
            final = (text or "").strip() or step.draft
        values: dict[str, object] = {
            "status": status,
            "decision": action,
            "decided_by": actor,
            "decided_at": now,
            "final_text": final,
            "reason": (reason or "").strip() or None,
            "attempts": eng.STEP_TABLE.c.attempts + 1,
            "updated_at": now,
            "due_at": None,
            "lease_until": None,
        }
        if status == S.SENDING:  # delivered now; retried by any worker after the lease
            values["due_at"] = values["lease_until"] = now + dt.timedelta(
                seconds=eng.lease_seconds(settings)
            )
        if new_ref != step.recipient_ref:
            values["recipient_ref"] = new_ref
            values["recipient_label"] = recipient_label or new_ref or ""
        t = eng.STEP_TABLE
        row = s.execute(
            sa.update(t)
            .where(t.c.id == step_id, t.c.team_id == team_id, t.c.status == S.AWAITING)
            .values(**values)
            .returning(t.c.attempts)
        ).first()
        if row is None:
            s.expire_all()
            raise CaseError(_stale(get_step(s, team_id, step_id)))
        token = int(row[0])
        edited = action == "edit" and final != step.draft
        audit.record(
            s,
            team_id,
            actor,
            "case_step",
            step_id,
            f"decided_{action}",
            from_state=S.AWAITING,
            to_state=status,
            case_id=step.case_id,
            draft=step.draft if edited else None,
            edited=final if edited else None,
            recipient_before=step.recipient_ref if new_ref != step.recipient_ref else None,
            recipient_after=new_ref if new_ref != step.recipient_ref else None,
            reason=values["reason"],
            delivery=str(kind),
        )
    if status == S.SENDING:
        return eng.finish_delivery(rt, notifier, team_id, step_id, token, now)
    eng.after_settled(rt, notifier, team_id, step_id)
    return None


# --- closing a case -----------------------------------------------------------------------


def close_case(session: Session, case: Case, answer: str, actor: str, now: dt.datetime) -> Outbox:
    """Saved or churned: record the outcome and stand down every step still open."""
    before = case.status
    case.status = next_case_state(answer, before)
    steps = steps_of(session, case)
    case.outcome = OUTCOME[case.status]
    case.resolution_step = case.current_step or None
    # the plan's size: every step not dropped before it ran (only a plan edit cancels a step
    # before the case closes), including extensions and the steps this close stands down
    case.total_steps = sum(1 for x in steps if x.status != S.CANCELLED)
    case.resolved_at = case.updated_at = now
    session.add(case)
    outbox = Outbox(case.id)
    word = msgs.ANSWER_WORDS[OUTCOME[case.status]]
    for step in steps:
        if step.status in FINAL_STEP or step.status == S.SENDING:
            continue
        was = step.status
        view = step_view(session, case, step)
        step.status, step.due_at, step.lease_until, step.updated_at = S.CANCELLED, None, None, now
        session.add(step)
        if was == S.AWAITING:
            outbox.update(
                step,
                *msgs.step_settled(
                    view, f"Case closed ({word}) by <@{actor}> — nothing more to do here."
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
    took = time_to_resolve(case)
    _note(
        case,
        actor,
        now,
        f"{word} at step {case.resolution_step or '—'} of "
        f"{case.total_steps}" + (f", {days(took)} after it was reported." if took else "."),
    )
    session.add(case)
    audit.record(
        session,
        case.team_id,
        actor,
        "case",
        case.id,
        answer,
        from_state=before,
        to_state=case.status,
        outcome=case.outcome,
        resolution_step=case.resolution_step,
        total_steps=case.total_steps,
        hours_to_resolve=round(took.total_seconds() / 3600, 1) if took else None,
    )
    case_closed(session, case, now)  # the CRM note, written in this same transaction
    return outbox


def _note(case: Case, actor: str, now: dt.datetime, text: str) -> None:
    line = f"{now.date().isoformat()} <@{actor}>: {text}"
    case.notes = f"{case.notes.rstrip()}\n{line}".strip()


def days(took: dt.timedelta) -> str:
    hours = took.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"


def time_to_resolve(case: Case) -> dt.timedelta | None:
    """resolved_at − opened_at (what reports and the card call "time to resolve")."""
    if case.resolved_at is None or case.opened_at is None:
        return None
    return clock.as_utc(case.resolved_at) - clock.as_utc(case.opened_at)


def answer(
    rt: Runtime,
    notifier: Notifier,
    team_id: str,
    case_id: int,
    position: int,
    reply: str,
    actor: str,
    now: dt.datetime | None = None,
) -> tuple[str, list[dict]]:
    """Resolved — saved / Churned / Not yet; returns the question as answered."""
    now = now or clock.now()
    settings = rt.settings
    with session_scope(rt.engine) as s:
        case = get_case(s, team_id, case_id)
        steps = steps_of(s, case)
        step = next((x for x in steps if x.position == position), None)
        if step is None:
            raise CaseError("That step no longer exists.")
        if not may_decide(s, case, step, actor, settings):
            raise CaseError(who_decides(case, step))
        if case.status in CLOSED_CASE:
            raise CaseError(f"Case #{case_id} is already closed ({case.outcome}).")
        if case.current_step != position or step.status not in FINAL_STEP:
            raise CaseError(
                f"This question was already answered — `/case {case_id}` shows where the case is."
            )
        view = step_view(s, case, step)
        if reply in {"saved", "churned"}:
            outbox = close_case(s, case, reply, actor, now)
            detail = f"Case #{case_id} closed at step {case.resolution_step} of {case.total_steps}."
        else:
            outbox, detail = _not_yet(s, case, steps, position, actor, now, settings)
    outbox.flush(notifier, team_id, rt.engine)
    return msgs.resolution_answered(view.account, reply, actor, now, detail)


def _not_yet(
    s: Session,
    case: Case,
    steps: list[CaseStep],
    position: int,
    actor: str,
    now: dt.datetime,
    settings: Settings,
) -> tuple[Outbox, str]:
    remaining = [x.position for x in steps if x.status == S.PLANNED and x.position > position]
    outcome = after_answer("not_yet", case.status, remaining)
    c = eng.CASE_TABLE
    won = s.execute(
        sa.update(c)
        .where(
            c.c.id == case.id,
            c.c.team_id == case.team_id,
            c.c.status == CaseStatus.RUNNING,
            c.c.current_step == position,
        )
        .values(
            status=outcome.case_status,
            current_step=outcome.next_position or position,
            updated_at=now,
        )
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise CaseError("This question was already answered.")
    s.refresh(case)
    audit.record(
        s,
        case.team_id,
        actor,
        "case",
        case.id,
        "not_yet",
        from_state=CaseStatus.RUNNING,
        to_state=outcome.case_status,
        position=position,
    )
    outbox = Outbox(case.id)
    if outcome.next_position is not None:
        nxt = next(x for x in steps if x.position == outcome.next_position)
        due = eng.schedule_step(s, case, nxt, now, settings, actor=actor)
        return outbox, (
            f"Step {nxt.position} ({msgs.escape(nxt.summary)}) is scheduled for {msgs.when(due)}."
        )
    owner = owner_of(case)
    outbox.dm(
        owner,
        *msgs.close_or_extend(
            case.id or 0, step_view(s, case, steps[-1]).account, owner, extension_choices(s, case)
        ),
    )
    return outbox, "That was the last step; the owner was asked to close or extend the case."
