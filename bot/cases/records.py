"""Team-scoped lookups, permissions and the views messages are built from.

Shared by the engine (scheduled work), decisions (Yes / No / Edit, the resolution answer)
and case control, so every door checks the same things the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.cases.blocks import StepView
from bot.config import Settings
from bot.models import Account, Case, CaseStep, OutboundMessage, OutboxStatus, Person, Playbook
from bot.notify import Notifier
from bot.outbox import service as outbox
from bot.outbox.scheduled import kick_soon
from bot.people.service import is_cs_admin, timezone_of
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class CaseError(ValueError):
    """A refused request about a case or step; the message is shown to the person."""


def get_case(session: Session, team_id: str, case_id: int) -> Case:
    case = session.exec(select(Case).where(Case.team_id == team_id, Case.id == case_id)).first()
    if case is None:
        raise CaseError(f"There is no case #{case_id} in this workspace.")
    return case


def get_step(session: Session, team_id: str, step_id: int) -> CaseStep:
    step = session.exec(
        select(CaseStep).where(CaseStep.team_id == team_id, CaseStep.id == step_id)
    ).first()
    if step is None:
        raise CaseError("That step no longer exists.")
    return step


def steps_of(session: Session, case: Case) -> list[CaseStep]:
    return list(
        session.exec(
            select(CaseStep)
            .where(CaseStep.team_id == case.team_id, CaseStep.case_id == case.id)
            .order_by(col(CaseStep.position))
        )
    )


def person(session: Session, team_id: str, user_id: str | None) -> Person | None:
    if not user_id:
        return None
    return session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()


def tz_of(session: Session, team_id: str, user_id: str | None, settings: Settings) -> ZoneInfo:
    return timezone_of(person(session, team_id, user_id), settings.default_timezone)


def is_admin(session: Session, team_id: str, user_id: str, settings: Settings) -> bool:
    """CS admins come from CS_ADMINS (ids or emails) or the cached profile's admin flag."""
    return is_cs_admin(session, team_id, user_id, settings.cs_admins)


def owner_of(case: Case) -> str | None:
    return case.owner_user_id or case.reporter_user_id


def assignee_of(case: Case, step: CaseStep) -> str | None:
    """Who is DMed for a step: its assignee, else the case owner."""
    return step.assignee_user_id or owner_of(case)


def may_decide(
    session: Session, case: Case, step: CaseStep, user_id: str, settings: Settings
) -> bool:
    if user_id in {assignee_of(case, step), owner_of(case)}:
        return True
    return is_admin(session, case.team_id, user_id, settings)


def may_control(session: Session, case: Case, user_id: str, settings: Settings) -> bool:
    if user_id in {owner_of(case), case.reporter_user_id}:
        return True
    return is_admin(session, case.team_id, user_id, settings)


def who_decides(case: Case, step: CaseStep) -> str:
    names = [f"<@{u}>" for u in dict.fromkeys([assignee_of(case, step), owner_of(case)]) if u]
    return f"Only {' or '.join(names) or 'the case owner'} or a CS admin can decide this step."


def who_controls(case: Case) -> str:
    names = [f"<@{u}>" for u in dict.fromkeys([owner_of(case), case.reporter_user_id]) if u]
    return f"Only {' or '.join(names) or 'the case owner'} or a CS admin can change this case."


# (database, version row id) → (team, key, name): a version row never changes its name
_LABELS: dict[tuple[str, int], tuple[str, str, str]] = {}


def risk_label(session: Session, case: Case) -> str:
    """The name of the case's playbook version, read once per process (not with the whole
    template's JSON on every step message)."""
    ref = (str(session.get_bind().engine.url), case.playbook_id)
    known = _LABELS.get(ref)
    if known is None or known[:2] != (case.team_id, case.risk_key):
        row = session.exec(
            select(Playbook.team_id, Playbook.key, Playbook.name).where(
                Playbook.id == case.playbook_id
            )
        ).first()
        known = (row[0], row[1], row[2]) if row is not None else None
        if known is not None and len(_LABELS) < 10_000:
            _LABELS[ref] = known
    if known is not None and known[0] == case.team_id:
        return known[2]
    return case.risk_key.replace("_", " ")


def account_name(session: Session, case: Case) -> str:
    account = session.get(Account, case.account_id)
    return account.name if account is not None and account.team_id == case.team_id else "?"


def step_view(session: Session, case: Case, step: CaseStep, total: int | None = None) -> StepView:
    return StepView(
        case_id=case.id or 0,
        step_id=step.id or 0,
        position=step.position,
        total=total if total is not None else (case.total_steps or step.position),
        account=account_name(session, case),
        risk=risk_label(session, case),
        why=case.context,
        summary=step.summary,
        medium=step.medium,
        recipient=step.recipient_label or step.recipient_ref or "",
        recipient_ref=step.recipient_ref,
        assignee=assignee_of(case, step),
        owner=owner_of(case),
        draft=step.final_text or step.draft,
        status=step.status,
    )


LIVE = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT)
CARD_PLACES = ("cs", "dm")  # the case card in the CS channel, and in the reporter's DM


def card_key(case_id: int, place: str) -> str:
    return f"case:{case_id}:card:{place}"


class Outbox:
    """What a change to a case says, written into the outbox in the change's own transaction.

    Creating one for a case marks its card for a refresh: the card is re-rendered from the
    database when the sender gets to it, so whichever process changed the case last, the card
    shows the latest state. `flush` (after the commit) sends it all right away instead of
    waiting for the next tick.
    """

    def __init__(self, session: Session, case: Case | None, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now
        self.team_id = case.team_id if case is not None else None
        if case is not None and case.id is not None:
            for place in CARD_PLACES:
                outbox.enqueue_update(
                    session,
                    case.team_id,
                    card_key(case.id, place),
                    kind="case_card",
                    entity=("case", case.id),
                    now=now,
                )

    def update(self, step: CaseStep, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit the step's DMs (its first and its reminder, whichever were posted or are on
        their way) to say what became of it."""
        keys = self.session.exec(
            select(OutboundMessage.key).where(
                OutboundMessage.team_id == step.team_id,
                OutboundMessage.kind == "step_dm",
                OutboundMessage.entity_id == step.id,
                OutboundMessage.op == "post",
                col(OutboundMessage.status).in_(LIVE),
            )
        ).all()
        for key in sorted(set(keys) | ({step.message_key} if step.message_key else set())):
            outbox.enqueue_update(
                self.session,
                step.team_id,
                key,
                text=text,
                blocks=blocks,
                entity=("case_step", step.id or 0),
                now=self.now,
            )

    def dm(self, user_id: str | None, key: str, text: str, blocks: list[dict[str, Any]]) -> None:
        if user_id and self.team_id:
            outbox.enqueue(
                self.session,
                self.team_id,
                key,
                user=user_id,
                text=text,
                blocks=blocks,
                kind="case_notice",
                now=self.now,
            )

    def flush(self, rt: Runtime, notifier: Notifier) -> None:
        """Send it now, off the request (a listener's answer never waits for these)."""
        if self.team_id:
            kick_soon(rt, notifier, self.team_id, self.now)
