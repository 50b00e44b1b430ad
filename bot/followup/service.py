"""Follow-through on commitments: the reminder the working day before a due date, the overdue
notice (owner and the account's CSM, who is offered the missed-commitment playbook), and the
close-the-loop note offered when a commitment is marked done.

Each notice is sent once: a conditional UPDATE on the commitment (`reminded_for`,
`overdue_notified_at`) claims it before anything is sent, so several workers never both send;
a retryable Slack failure releases the claim for the next tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import audit
from bot.accounts.service import contacts_by_role
from bot.commitments import service as cm
from bot.config import Settings
from bot.db import session_scope
from bot.followup.blocks import (
    close_loop_draft,
    close_loop_offer,
)
from bot.models import (
    Account,
    Commitment,
    CommitmentStatus,
    OutboxStatus,
    Person,
    ProcessedEvent,
    Transcript,
)
from bot.notify import DeliveryError, Notifier
from bot.outbox import service as outbox
from bot.outbox.scheduled import kick
from bot.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 200
CONTACT_ORDER = ("champion", "new_point_of_contact", "economic_buyer", "admin", "user", "contact")


# --- pure rules ----------------------------------------------------------------------------


# --- reminder the working day before ------------------------------------------------------


# --- overdue: owner and CSM told once ---------------------------------------------------


# --- close the loop -----------------------------------------------------------------------


@dataclass(frozen=True)
class CloseLoop:
    commitment_id: int
    owner_user_id: str | None
    draft: str
    recipient_name: str | None
    recipient_email: str | None
    channel: str | None  # the account's shared Slack channel, if any
    subject: str


def close_loop_for(session: Session, team_id: str, commitment_id: int) -> CloseLoop | None:
    """The note for a done, vendor-side commitment; None when there is nobody to tell."""
    try:
        c = cm.get(session, team_id, commitment_id)
    except cm.CommitmentError:
        return None
    if c.status != CommitmentStatus.DONE or c.side == "customer":
        return None
    account, name = account_name(session, c)
    contact = None
    if account is not None and account.id is not None:
        by_role = contacts_by_role(session, team_id, account.id)
        for role in (*CONTACT_ORDER, *by_role):
            if by_role.get(role):
                contact = by_role[role][0]
                break
    call_date = None
    if c.transcript_id:
        t = session.get(Transcript, c.transcript_id)
        call_date = t.call_date if t and t.team_id == team_id else None
    owner = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == c.owner_user_id)
    ).first()
    owner_name = (owner.real_name or owner.name) if owner else c.owner_name
    draft = close_loop_draft(c.text, contact.name if contact else None, owner_name, call_date)
    return CloseLoop(
        c.id or 0,
        c.owner_user_id,
        draft,
        contact.name if contact else None,
        contact.email if contact else None,
        account.slack_channel_id if account else None,
        f"Done: {c.text[:80]}" + (f" ({name})" if name else ""),
    )


def offer_close_loop(
    rt: Runtime, notifier: Notifier, team_id: str, commitment_id: int, actor: str
) -> bool:
    """After "done": DM the owner (or whoever marked it) a drafted note to the customer —
    once per commitment, however often it is marked done."""
    with session_scope(rt.engine) as session:
        loop = close_loop_for(session, team_id, commitment_id)
        if loop is None:
            return False
        text, blocks = close_loop_offer(
            commitment_id, loop.draft, loop.recipient_name, can_send=bool(loop.channel)
        )
        outbox.enqueue(
            session,
            team_id,
            f"commitment:{commitment_id}:close_loop_offer",
            user=loop.owner_user_id or actor,
            text=text,
            blocks=blocks,
            kind="commitment_notice",
            entity=("commitment", commitment_id),
        )
    kick(rt, notifier, team_id)
    return True


def claim_close_loop(
    session: Session, team_id: str, commitment_id: int, actor: str, how: str
) -> bool:
    """Once per commitment, whatever the clicks: an idempotency key in ProcessedEvent, in
    the caller's transaction (a savepoint, so a lost race leaves the rest of it alone)."""
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(team_id=team_id, event_id=f"close-loop:{commitment_id}"))
            session.flush()
    except IntegrityError:
        return False
    audit.record(session, team_id, actor, "commitment", commitment_id, "close_loop", how=how)
    return True


def may_close_loop(
    session: Session, team_id: str, commitment_id: int, actor: str, settings: Settings
) -> bool:
    try:
        c = cm.get(session, team_id, commitment_id)
    except cm.CommitmentError:
        return False
    return cm.may_change(session, c, actor, set(settings.cs_admins))


def copy_close_loop(
    engine: Engine, settings: Settings, team_id: str, commitment_id: int, actor: str
) -> CloseLoop | None:
    """ "Give me the text": the note to copy, claimed once; None when it is not (any longer)
    available to `actor`."""
    with session_scope(engine) as session:
        if not may_close_loop(session, team_id, commitment_id, actor, settings):
            return None
        loop = close_loop_for(session, team_id, commitment_id)
        if loop is not None:
            claim_close_loop(session, team_id, commitment_id, actor, "copied")
        return loop


def send_close_loop(
    rt: Runtime, notifier: Notifier, team_id: str, commitment_id: int, actor: str
) -> str:
    """The owner's Yes: post the note in the account's shared channel, exactly once (the
    claim and the message are one transaction; the outbox delivers it); says what happened."""
    key = f"commitment:{commitment_id}:close_loop"
    with session_scope(rt.engine) as session:
        if not may_close_loop(session, team_id, commitment_id, actor, rt.settings):
            return "Only the commitment's owner, its account's CSM or a CS admin can send this."
        loop = close_loop_for(session, team_id, commitment_id)
        if loop is None or not loop.channel:
            return "There is no shared channel with this customer; use “give me the text”."
        if not claim_close_loop(session, team_id, commitment_id, actor, "sent"):
            return "This note was already handled; nothing sent twice."
        outbox.enqueue(
            session,
            team_id,
            key,
            channel=loop.channel,
            text=loop.draft,
            kind="close_loop",
            entity=("commitment", commitment_id),
        )
    kick(rt, notifier, team_id)
    with session_scope(rt.engine) as session:
        row = outbox.by_key(session, team_id, key)
    if row is not None and row.status == OutboxStatus.FAILED:
        return f"Slack refused the message ({row.error}); it was not sent."
    if row is not None and row.status != OutboxStatus.SENT:
        return f"Slack is busy; the note will be posted in <#{loop.channel}> shortly."
    return f":incoming_envelope: Sent to <#{loop.channel}>."


# --- the CSM's "report risk: missed commitment" --------------------------------------------

MISSED_RISK = "missed_commitment"


@dataclass(frozen=True)
class MissedPrefill:
    account_id: int
    account_name: str
    context: str


def missed_prefill(
    session: Session, team_id: str, commitment_id: int, actor: str, settings: Settings
) -> MissedPrefill:
    """What the report-risk modal starts with; CommitmentError when not allowed / no account."""
    c = cm.get(session, team_id, commitment_id)
    if not cm.may_change(session, c, actor, set(settings.cs_admins)):
        raise cm.CommitmentError(
            "Only the account's CSM, the owner or a CS admin can report this as a risk."
        )
    account, name = account_name(session, c)
    if account is None or account.id is None:
        raise cm.CommitmentError(
            "This commitment has no account, so there is nothing to "
            "report a risk on. Set its account first."
        )
    who = f"<@{c.owner_user_id}>" if c.owner_user_id else (c.owner_name or "We")
    due = f" by {c.due_date:%b} {c.due_date.day}" if c.due_date else ""
    context = (
        f"Missed commitment: {who} promised {name}{due}: “{c.text}”. It is overdue and still open."
    )
    return MissedPrefill(account.id, name or "?", context)


def prefill_missed(
    engine: Engine, settings: Settings, team_id: str, commitment_id: int, actor: str
) -> MissedPrefill:
    with session_scope(engine) as session:
        return missed_prefill(session, team_id, commitment_id, actor, settings)


def plan_missed(
    rt: Runtime, notifier: Notifier, team_id: str, actor: str, account_id: int, context: str
) -> str:
    """Plan the missed-commitment case (bot.cases.report) and tell the reporter."""
    from bot.cases.report import ReportError, ReportRequest, report_risk

    try:
        result = report_risk(
            rt.engine,
            ReportRequest(
                team_id=team_id,
                risk_key=MISSED_RISK,
                context=context,
                reporter_user_id=actor,
                account_id=account_id,
            ),
        )
    except ReportError as exc:
        text = f"Could not plan the case: {exc}"
    else:
        verb = "planned" if result.created else "already open"
        text = (
            f":clipboard: Case #{result.case.id} for *{result.account.name}* "
            f"({result.playbook.name}) {verb} — {len(result.steps)} steps."
        )
    try:
        notifier.dm(team_id, actor, text)
    except DeliveryError as exc:
        log.warning("missed-commitment report answer not delivered: %s", exc.code)
    return text


def account_name(session: Session, c: Commitment) -> tuple[Account | None, str | None]:
    account = session.get(Account, c.account_id) if c.account_id else None
    if account is not None and account.team_id != c.team_id:
        account = None
    return account, account.name if account else None
