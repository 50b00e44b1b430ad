"""The cases domain's periodic work and what its outbox messages do when they land.

DUE_JOBS: due steps → their DM; awaiting steps → one reminder, then one escalation.
OUTBOX_HOOKS: a step's DM records where it landed (or puts the step back if Slack refuses it);
a delivery marks the step done (or undeliverable); the resolution question and the case card
are rendered when sent, from the state of that moment.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from bot import audit
from bot.cases import blocks as msgs
from bot.cases import card_sync, engine
from bot.cases.decisions import undeliverable_hint
from bot.cases.records import Outbox, step_view
from bot.cases.steps import FINAL_STEP, STEP
from bot.db import session_scope
from bot.models import Case, CaseStatus, CaseStep, OutboundMessage, StepStatus
from bot.notify import Notifier
from bot.outbox.hooks import OutboxHooks, Rendered, SendContext
from bot.runtime import Runtime
from bot.states import move

DM_RETRY = dt.timedelta(hours=1)


def post_due_steps(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: each due step's DM goes to the outbox (sent later in the same tick)."""
    with session_scope(rt.engine) as s:
        return engine.queue_due_steps(s, now, rt.settings)


def send_followups(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: reminders and escalations of steps still waiting for a decision."""
    with session_scope(rt.engine) as s:
        return engine.queue_followups(s, now, rt.settings)


def _step(session: Session, row: OutboundMessage) -> tuple[CaseStep, Case] | None:
    """The message's step and its case, in one query (every hook of a step's message asks)."""
    if not row.entity_id:
        return None
    found = session.exec(
        select(CaseStep, Case)
        .join(Case, col(Case.id) == col(CaseStep.case_id))
        .where(CaseStep.id == row.entity_id, CaseStep.team_id == row.team_id)
    ).first()
    return (found[0], found[1]) if found is not None else None


# --- a step's DM (and its reminder) ---------------------------------------------------------


def render_step_dm(session: Session, row: OutboundMessage, ctx: SendContext) -> Rendered | None:
    """The DM as the step stands now; nothing if it was decided, reassigned or closed
    before the DM went out (no stale buttons are ever posted)."""
    found = _step(session, row)
    if found is None:
        return None
    step, case = found
    if step.message_key != row.key or step.status != StepStatus.AWAITING:
        return None
    view = step_view(session, case, step)
    return msgs.step_dm(view, reminder=":reminder:" in row.key)


def step_dm_sent(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    found = _step(session, row)
    if found is None or found[0].message_key != row.key:
        return
    step, case = found
    step.dm_channel, step.dm_ts = row.sent_channel, row.sent_ts
    session.add(step)
    if step.status == StepStatus.AWAITING:
        engine.chase_from(session, step, ctx.now, ctx.settings)
    what = "reminder_posted" if ":reminder:" in row.key else "dm_posted"
    audit.record(
        session,
        step.team_id,
        "system",
        "case_step",
        step.id,
        what,
        to=row.user_id,
        ts=row.sent_ts,
        case_id=case.id,
    )


def step_dm_failed(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    """Slack refused the DM for good (user deactivated …): the step waits an hour and is
    tried again, so a reassignment in the meantime reaches the new assignee."""
    found = _step(session, row)
    if found is None:
        return
    step, case = found
    if step.message_key != row.key or step.status != StepStatus.AWAITING:
        return
    retry = ctx.now + DM_RETRY
    move(session, STEP, step, "dm_failed", due_at=retry, message_key=None)
    Outbox(session, case, ctx.now)
    audit.record(
        session,
        step.team_id,
        "system",
        "case_step",
        step.id,
        "dm_failed",
        from_state=StepStatus.AWAITING,
        to_state=StepStatus.SCHEDULED,
        error=row.error,
        retry_at=retry.isoformat(),
    )


# --- a decided step's delivery ----------------------------------------------------------------


def delivered(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    found = _step(session, row)
    if found is None:
        return
    step, case = found
    if step.status != StepStatus.SENDING:
        return
    move(
        session,
        STEP,
        step,
        "delivered",
        delivered_ts=row.sent_ts,
        due_at=None,
        lease_until=None,
        updated_at=ctx.now,
    )
    audit.record(
        session,
        step.team_id,
        "system",
        "case_step",
        step.id,
        "delivered",
        from_state=StepStatus.SENDING,
        to_state=StepStatus.DONE,
        via=row.op if row.op == "email" else "slack",
        to=row.user_id or row.channel or row.detail.get("to"),
        ts=row.sent_ts,
    )
    engine.after_settled(session, case, step, ctx.settings, ctx.now)


def undeliverable(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    """The recipient could not be reached: the step waits for a decision again, and its DM
    says why and what to do."""
    found = _step(session, row)
    if found is None:
        return
    step, case = found
    if step.status != StepStatus.SENDING:
        return
    move(
        session,
        STEP,
        step,
        "undeliverable",
        decision=None,
        decided_by=None,
        decided_at=None,
        due_at=None,
        lease_until=None,
    )
    audit.record(
        session,
        step.team_id,
        "system",
        "case_step",
        step.id,
        "undeliverable",
        from_state=StepStatus.SENDING,
        to_state=StepStatus.AWAITING,
        error=row.error,
    )
    text, blocks = msgs.step_dm(step_view(session, case, step))
    blocks.insert(1, msgs.context(f"⚠️ Not sent: {undeliverable_hint(row.error)}."))
    Outbox(session, case, ctx.now).update(step, text, blocks)


# --- asked after each step ----------------------------------------------------------------------


def render_question(session: Session, row: OutboundMessage, ctx: SendContext) -> Rendered | None:
    """ "Is the risk resolved?" — unless the case moved on before it went out."""
    found = _step(session, row)
    if found is None:
        return None
    step, case = found
    if (
        case.status != CaseStatus.RUNNING
        or case.current_step != step.position
        or step.status not in FINAL_STEP
    ):
        return None
    return msgs.resolution_question(
        case.id or 0, step.position, step_view(session, case, step).account
    )


DUE_JOBS = [
    ("cases.steps_due", post_due_steps),
    ("cases.followups", send_followups),
]

OUTBOX_HOOKS = {
    "step_dm": OutboxHooks(render=render_step_dm, on_sent=step_dm_sent, on_failed=step_dm_failed),
    "step_delivery": OutboxHooks(on_sent=delivered, on_failed=undeliverable),
    "resolution_question": OutboxHooks(render=render_question),
    "case_card": OutboxHooks(
        render=card_sync.render, on_sent=card_sync.on_sent, on_failed=card_sync.on_failed
    ),
}
