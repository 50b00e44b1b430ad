"""A person's answers: Yes / No / Edit on a step, then "Is the risk resolved?".

Every decision is one conditional UPDATE (`WHERE status = 'awaiting'`): of two clicks on Yes
only one changes the row, so only one message is ever sent; the other click is told who
decided. The resolution answer is guarded the same way on `Case.current_step`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import audit, clock
from bot.cases import blocks as msgs
from bot.cases import engine as eng
from bot.cases.extend import extension_choices
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
    CASE,
    CLOSED_CASE,
    FINAL_STEP,
    OUTCOME,
    STEP,
    after_answer,
    decision_action,
    delivery_for,
)
from bot.config import Settings
from bot.crm.writeback import case_closed
from bot.db import session_scope
from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.notify import Notifier
from bot.outbox.scheduled import kick_soon
from bot.runtime import Runtime
from bot.slack.payload import parse_ref
from bot.states import StateError, move

S = StepStatus
DECISIONS = ("yes", "edit", "no")


def parse_value(value: str | None) -> tuple[int, str]:
    """'<id>:<expected state>' from a button or modal; BadInput when it is not ours."""
    return parse_ref(
        value, "That button is not recognised any more, so nothing changed; use the latest message."
    )


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
    step, case = _decidable(session, team_id, step_id, actor, settings, expected)
    return step_view(session, case, step)


def _decidable(
    session: Session,
    team_id: str,
    step_id: int,
    actor: str,
    settings: Settings,
    expected: str | None,
) -> tuple[CaseStep, Case]:
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
    return step, case


def decidable(
    engine: Engine,
    team_id: str,
    step_id: int,
    actor: str,
    settings: Settings,
    expected: str | None = None,
) -> msgs.StepView:
    """`check_decidable` in its own transaction (before a modal opens or is submitted)."""
    with session_scope(engine) as session:
        return check_decidable(session, team_id, step_id, actor, settings, expected)


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
) -> None:
    """Yes / Edit / No on a step. Raises CaseError when refused.

    One transaction moves the step (guarded: of two clicks only one finds it awaiting) and
    writes what follows into the outbox — the message to the recipient, or the step's DM
    update and the resolution question; the outbox then sends it right away, off the
    request (`kick_soon`). If the recipient cannot be reached, the step's DM says so and
    offers the decision again (the delivery's `on_failed` hook)."""
    if action not in DECISIONS:
        raise CaseError(f"Unknown decision {action!r}.")
    asked_at, now = now, now or clock.now()
    settings = rt.settings
    with session_scope(rt.engine) as s:
        step, case = _decidable(s, team_id, step_id, actor, settings, expected)
        new_ref = recipient.strip() if recipient and recipient.strip() else step.recipient_ref
        kind = delivery_for(step.medium, new_ref, bool(settings.smtp_url))
        transition = decision_action(action, kind)
        final = None
        if action != "no":
            final = (text or "").strip() or step.draft
        draft, before_ref = step.draft, step.recipient_ref
        values: dict[str, object] = {
            "decision": action,
            "decided_by": actor,
            "decided_at": now,
            "final_text": final,
            "reason": (reason or "").strip() or None,
            "attempts": step.attempts + 1,
            "updated_at": now,
            "due_at": None,
            "lease_until": None,
        }
        if new_ref != before_ref:
            values["recipient_ref"] = new_ref
            values["recipient_label"] = recipient_label or new_ref or ""
        try:
            move(s, STEP, step, transition, STEP.table.c.team_id == team_id, **values)
        except StateError:
            raise CaseError(_stale(get_step(s, team_id, step_id))) from None
        edited = action == "edit" and final != draft
        audit.record(
            s,
            team_id,
            actor,
            "case_step",
            step_id,
            f"decided_{action}",
            from_state=S.AWAITING,
            to_state=step.status,
            case_id=step.case_id,
            draft=draft if edited else None,
            edited=final if edited else None,
            recipient_before=before_ref if new_ref != before_ref else None,
            recipient_after=new_ref if new_ref != before_ref else None,
            reason=values["reason"],
            delivery=str(kind),
        )
        view = step_view(s, case, step)
        if step.status == S.SENDING:
            eng.queue_delivery(s, case, step, settings, view.account, now)
        else:
            eng.after_settled(s, case, step, settings, now)
        Outbox(s, case, now)
    kick_soon(rt, notifier, team_id, asked_at)  # a caller's own clock, else the send's


def undeliverable_hint(code: str | None) -> str:
    return {
        "not_in_channel": "the app is not in that channel — invite it, then say Yes again",
        "channel_not_found": "that channel does not exist (or is private without the app)",
        "is_archived": "that channel is archived",
        "email_uncertain": (
            "the worker stopped while handing the email to the mail server, so it may or may "
            "not have gone out — check your sent mail, then send it by hand if it is missing"
        ),
    }.get(code or "", f"Slack said {code}" if code else "it could not be delivered")


# --- closing a case -----------------------------------------------------------------------


def close_case(session: Session, case: Case, answer: str, actor: str, now: dt.datetime) -> Outbox:
    """Saved or churned: record the outcome and stand down every step still open."""
    # the plan's size: every step not dropped before it ran (only a plan edit cancels a step
    # before the case closes), including extensions and the steps this close stands down
    total = sum(1 for x in steps_of(session, case) if x.status != S.CANCELLED)
    before = move(session, CASE, case, answer, resolved_at=now, updated_at=now)
    case.outcome = OUTCOME[CaseStatus(case.status)]
    case.resolution_step = case.current_step or None
    case.total_steps = total
    eng.cancel_open_steps(session, case, actor, now)
    word = msgs.ANSWER_WORDS[OUTCOME[CaseStatus(case.status)]]
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
    return Outbox(session, case, now)


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
    outbox.flush(rt, notifier)
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
    action = "next_step" if outcome.next_position is not None else "await_close"
    try:  # guarded on the step the question was about: of two answers, one counts
        move(
            s,
            CASE,
            case,
            action,
            CASE.table.c.current_step == position,
            current_step=outcome.next_position or position,
            updated_at=now,
        )
    except StateError:
        raise CaseError("This question was already answered.") from None
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
    outbox = Outbox(s, case, now)
    if outcome.next_position is not None:
        nxt = next(x for x in steps if x.position == outcome.next_position)
        due = eng.schedule_step(s, case, nxt, now, settings, actor=actor)
        return outbox, (
            f"Step {nxt.position} ({msgs.escape(nxt.summary)}) is scheduled for {msgs.when(due)}."
        )
    ask_close_or_extend(s, case, outbox)
    return outbox, "That was the last step; the owner was asked to close or extend the case."


def ask_close_or_extend(session: Session, case: Case, outbox: Outbox) -> None:
    """The last step is behind us: the owner is asked to close the case or add a playbook."""
    owner = owner_of(case)
    steps = steps_of(session, case)
    rounds = len((case.gathered or {}).get("extensions") or [])
    outbox.dm(
        owner,
        f"case:{case.id}:close_or_extend:{rounds}",
        *msgs.close_or_extend(
            case.id or 0,
            step_view(session, case, steps[-1]).account,
            owner,
            extension_choices(session, case),
        ),
    )
