"""The case card wherever it was posted (the CS channel, the reporter's DM), kept current
through the outbox: posted once, then re-rendered from the database each time it is sent.

Every change to a case marks its card rows (`records.Outbox`); the sender renders the card
when it gets to the row, and a change made while an edit is in flight makes it go once more.
So the card always ends on the latest state, however many processes (web, workers) changed
the case and in whatever order their edits would otherwise have landed.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from bot import audit
from bot.cases import blocks as msgs
from bot.cases import control
from bot.cases.plan_blocks import card_text, plan_card
from bot.cases.records import card_key
from bot.cases.report import case_steps
from bot.models import Account, Case, CaseStatus, OutboundMessage, Playbook, Workspace
from bot.outbox import service as outbox
from bot.outbox.hooks import SendContext


def card_for(session: Session, case: Case) -> tuple[str, list[dict[str, Any]]]:
    """The case card's text and blocks, as it stands now: the plan with its edit controls
    while planned; once started, the step engine's status card (each step's state, the
    outcome) with the case controls — the same card `/case 42` shows."""
    account = session.get(Account, case.account_id)
    playbook = session.get(Playbook, case.playbook_id)
    account_name = account.name if account else f"account {case.account_id}"
    playbook_name = playbook.name if playbook else case.risk_key
    text = card_text(case, account_name, playbook_name)
    if case.status != CaseStatus.PLANNED:
        return text, msgs.case_card(control.card(session, case.team_id, case.id or 0))
    steps = case_steps(session, case.team_id, case.id or 0)
    return text, plan_card(case, steps, account_name=account_name, playbook_name=playbook_name)


def announce(session: Session, case: Case, cs_channel: str | None) -> None:
    """Post the card to the team's CS channel (Workspace.cs_channel_id, else CS_CHANNEL) and
    DM it to the reporter — once each, whatever retries follow; later changes edit them."""
    workspace = session.exec(select(Workspace).where(Workspace.team_id == case.team_id)).first()
    if workspace is not None and workspace.cs_channel_id:
        cs_channel = workspace.cs_channel_id  # the team's own choice beats the default
    entity = ("case", case.id or 0)
    if cs_channel:
        outbox.enqueue(
            session,
            case.team_id,
            card_key(case.id or 0, "cs"),
            channel=cs_channel,
            kind="case_card",
            entity=entity,
        )
    if case.reporter_user_id:
        outbox.enqueue(
            session,
            case.team_id,
            card_key(case.id or 0, "dm"),
            user=case.reporter_user_id,
            kind="case_card",
            entity=entity,
        )


def _case(session: Session, row: OutboundMessage) -> Case | None:
    case = session.get(Case, row.entity_id) if row.entity_id else None
    return case if case is not None and case.team_id == row.team_id else None


def render(session: Session, row: OutboundMessage, ctx: SendContext) -> Any:
    case = _case(session, row)
    return card_for(session, case) if case is not None else None


def on_sent(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    """Remember where the card landed (for `/case`, exports and older tools reading it)."""
    case = _case(session, row)
    if case is None or row.op != "post":
        return
    if row.key.endswith(":cs"):
        case.card_channel, case.card_ts = row.sent_channel, row.sent_ts
    else:
        case.reporter_channel, case.reporter_ts = row.sent_channel, row.sent_ts
    session.add(case)


def on_failed(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    case = _case(session, row)
    if case is not None and row.op == "post":
        audit.record(
            session,
            case.team_id,
            "system",
            "case",
            case.id,
            "card_not_posted",
            where=row.channel or row.user_id,
            error=row.error,
        )
