"""From a reported risk to a planned case: people resolved, messages drafted, rows written once.

`report_risk` runs in three phases so no database lock is held while an LLM writes:
1. read (one transaction): account, playbook (seeded on first use), an already open case for
   the same account and risk, the account's context, who each step's people are;
2. draft every step (rules, or openai with the rules draft as fallback);
3. write (one transaction): take the account's row lock, look again for an open case
   (another reporter may have won the race), then insert the case, its steps and the
   audit rows together — all or nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.cases.context import Gathered, bounded, gather, person_facts, render_facts
from bot.cases.drafting import Drafter, StepDraft
from bot.db import session_scope
from bot.models import (
    OPEN_CASE_STATUSES,
    Account,
    Case,
    CaseStatus,
    CaseStep,
    Contact,
    Person,
    Playbook,
    StepStatus,
)
from bot.people.service import get_person, person_by_email
from bot.playbooks.checks import anchors
from bot.playbooks.plan import step_facts
from bot.playbooks.schema import (
    Assignee,
    AssigneeRole,
    PlaybookTemplate,
    Recipient,
    RecipientKind,
)
from bot.playbooks.service import ensure_seeded_once, get_playbook, template_of

log = logging.getLogger(__name__)


MAX_CONTEXT_CHARS = 10_000  # what the modal accepts and the case stores
DRAFT_CONTEXT_CHARS = 800  # what a drafted message may quote of it
MAX_LINKS_CHARS = 2_000

ROLE_LABELS = {
    "csm": "CSM",
    "cs_manager": "CS manager",
    "account_executive": "account executive",
    "support_lead": "support lead",
    "exec_sponsor": "exec sponsor",
}


class ReportError(ValueError):
    """A report that cannot become a case; `field` names the modal input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ReportRequest:
    team_id: str
    risk_key: str
    context: str
    reporter_user_id: str | None
    account_id: int | None = None
    account_name: str | None = None  # the CLI names accounts; Slack sends the id
    links: str | None = None
    # a transcript sent with the report: quoted first in the drafts once it has been read;
    # `attachment` (filename, status, reason …) is kept on the case and shown on its card
    attached_transcript_id: int | None = None
    attachment: dict[str, Any] | None = None


@dataclass(frozen=True)
class Resolved:
    """One side of a step: who it is in our records, and how to show it."""

    label: str
    ref: str | None = None  # Slack user / channel or email address
    user_id: str | None = None
    facts: dict[str, Any] | None = None
    fallback: bool = False  # assignee role unknown: the reporter does it
    known: bool = True  # False: nobody on record for this role


@dataclass
class ReportResult:
    case: Case
    steps: list[CaseStep]
    account: Account
    playbook: Playbook
    created: bool  # False: an open case for this account and risk already existed


@dataclass
class _Prepared:
    request: ReportRequest
    account: Account
    playbook: Playbook
    template: PlaybookTemplate
    gathered: Gathered
    owner_user_id: str | None
    assignees: list[Resolved] = field(default_factory=list)
    recipients: list[Resolved | None] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


# --- people ------------------------------------------------------------------------------


def _person(session: Session, team_id: str, user_id: str | None) -> Person | None:
    if not user_id:
        return None
    return session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()


def resolve_user(session: Session, team_id: str, user_id: str) -> Resolved:
    """A colleague by Slack id, with the placeholder facts drafts use for them."""
    person = _person(session, team_id, user_id)
    name = (person.real_name or person.name) if person else None
    email = person.email if person else None
    return Resolved(
        label=name or user_id, ref=user_id, user_id=user_id, facts=person_facts(name, email)
    )


def role_user(session: Session, team_id: str, role: AssigneeRole, account: Account) -> str | None:
    """The Slack user who holds an internal role for this account, or None."""
    if role is AssigneeRole.CSM:
        return account.csm_user_id
    if role is AssigneeRole.ACCOUNT_EXECUTIVE:
        return account.ae_user_id
    if role is AssigneeRole.CS_MANAGER:
        csm = _person(session, team_id, account.csm_user_id)
        return csm.manager_user_id if csm else None
    holder = session.exec(
        select(Person)
        .where(
            Person.team_id == team_id, Person.role == role.value, col(Person.deactivated).is_(False)
        )
        .order_by(col(Person.id))
    ).first()
    return holder.slack_user_id if holder else None


def resolve_assignee(
    session: Session,
    team_id: str,
    assignee: Assignee,
    account: Account,
    reporter_user_id: str | None,
) -> Resolved:
    """The person who does the step; an unknown role falls back to the reporter, flagged."""
    user_id: str | None = None
    if assignee.email:
        person = person_by_email(session, team_id, assignee.email)
        user_id = person.slack_user_id if person else None
    elif assignee.role is not None:
        user_id = role_user(session, team_id, assignee.role, account)
    if user_id:
        return resolve_user(session, team_id, user_id)
    wanted = assignee.email or ROLE_LABELS.get(str(assignee.role), str(assignee.role))
    if reporter_user_id:
        found = resolve_user(session, team_id, reporter_user_id)
        return Resolved(
            label=f"{found.label} (reporter; no {wanted} on record)",
            ref=reporter_user_id,
            user_id=reporter_user_id,
            facts=found.facts,
            fallback=True,
        )
    return Resolved(label=f"unassigned (no {wanted} on record)", fallback=True, known=False)


def _contact(contact: Contact, role: str) -> Resolved:
    title = f", {contact.title}" if contact.title else ""
    return Resolved(
        label=f"{contact.name}{title} ({role.replace('_', ' ')})",
        ref=contact.slack_user_id or contact.email,
        facts=person_facts(contact.name, contact.email, contact.title),
    )


def resolve_recipient(
    session: Session,
    team_id: str,
    recipient: Recipient,
    account: Account,
    contacts: dict[str, list[Contact]],
) -> Resolved:
    """Who the step's message goes to; `known=False` (shown on the card) when nobody is."""
    kind, value = recipient.kind, recipient.value
    if kind is RecipientKind.CONTACT:
        found = contacts.get(value) or []
        if found:
            return _contact(found[0], value)
        return Resolved(label=f"no {value.replace('_', ' ')} on record", known=False)
    if kind is RecipientKind.INTERNAL:
        user_id = role_user(session, team_id, AssigneeRole(value), account)
        if user_id:
            return resolve_user(session, team_id, user_id)
        return Resolved(label=f"no {ROLE_LABELS.get(value, value)} on record", known=False)
    if kind is RecipientKind.CHANNEL:
        return Resolved(label=value, ref=value)
    person = person_by_email(session, team_id, value)
    if person is not None:
        return resolve_user(session, team_id, person.slack_user_id)
    return Resolved(label=value, ref=value, facts={"email": value})


# --- the service -------------------------------------------------------------------------


def find_account(session: Session, request: ReportRequest) -> Account:
    from bot.accounts.service import find_account as by_text

    account: Account | None = None
    if request.account_id is not None:
        account = session.get(Account, request.account_id)
        if account is not None and account.team_id != request.team_id:
            account = None
    elif request.account_name:
        account = by_text(session, request.team_id, request.account_name)
    if account is None:
        named = f" '{request.account_name}'" if request.account_name else ""
        raise ReportError(
            f"No account{named} found; pick one from the list (or import accounts first).",
            "account",
        )
    return account


def open_case(session: Session, team_id: str, account_id: int, risk_key: str) -> Case | None:
    """The open case for this account and risk, if any (what a second reporter is shown)."""
    return session.exec(
        select(Case)
        .where(
            Case.team_id == team_id,
            Case.account_id == account_id,
            Case.risk_key == risk_key,
            col(Case.status).in_(OPEN_CASE_STATUSES),
        )
        .order_by(col(Case.id).desc())
    ).first()


def case_steps(session: Session, team_id: str, case_id: int) -> list[CaseStep]:
    return list(
        session.exec(
            select(CaseStep)
            .where(CaseStep.team_id == team_id, CaseStep.case_id == case_id)
            .order_by(col(CaseStep.position))
        )
    )


def _existing(session: Session, case: Case) -> ReportResult:
    account = session.get(Account, case.account_id)
    playbook = session.get(Playbook, case.playbook_id)
    assert account is not None and playbook is not None
    return ReportResult(
        case, case_steps(session, case.team_id, case.id or 0), account, playbook, created=False
    )


def check_request(request: ReportRequest) -> None:
    if not request.context or not request.context.strip():
        raise ReportError("Say in a sentence or two what happened.", "context")
    if len(request.context) > MAX_CONTEXT_CHARS:
        raise ReportError(
            f"That is {len(request.context):,} characters; at most {MAX_CONTEXT_CHARS:,} fit.",
            "context",
        )
    if request.links and len(request.links) > MAX_LINKS_CHARS:
        raise ReportError(f"Links are limited to {MAX_LINKS_CHARS:,} characters.", "links")


def _prepare(session: Session, request: ReportRequest) -> _Prepared | ReportResult:
    check_request(request)
    account = find_account(session, request)
    playbook = get_playbook(session, request.team_id, request.risk_key)
    if playbook is None:
        raise ReportError(
            f"No active playbook '{request.risk_key}'; pick a risk type from the list.", "risk"
        )
    existing = open_case(session, request.team_id, account.id or 0, request.risk_key)
    if existing is not None:
        return _existing(session, existing)
    return plan_steps(session, request, account, playbook)


def plan_steps(
    session: Session, request: ReportRequest, account: Account, playbook: Playbook
) -> _Prepared:
    """Gather the account's context and resolve every step's people (no drafting yet)."""
    template = template_of(playbook)
    gathered = gather(
        session,
        request.team_id,
        account,
        report_text=request.context,
        risk_name=template.name,
        attached_transcript_id=request.attached_transcript_id,
    )
    from bot.accounts.service import contacts_by_role

    contacts = contacts_by_role(session, request.team_id, account.id or 0)
    reporter = request.reporter_user_id
    prep = _Prepared(
        request,
        account,
        playbook,
        template,
        gathered,
        owner_user_id=account.csm_user_id or reporter,
    )
    prep.facts = case_facts(
        session,
        request.team_id,
        account,
        gathered,
        risk_name=template.name,
        context=request.context,
        reporter_user_id=reporter,
    )
    for step in template.steps:
        prep.assignees.append(
            resolve_assignee(session, request.team_id, step.assignee, account, reporter)
        )
        prep.recipients.append(
            resolve_recipient(session, request.team_id, step.recipient, account, contacts)
            if step.recipient
            else None
        )
    return prep


def case_facts(
    session: Session,
    team_id: str,
    account: Account,
    gathered: Gathered,
    *,
    risk_name: str,
    context: str,
    reporter_user_id: str | None,
) -> dict[str, Any]:
    """The case-wide placeholder facts every step's draft starts from (a re-draft after a
    reassignment rebuilds them from the stored context, so both drafts see the same case)."""
    csm = resolve_user(session, team_id, account.csm_user_id) if account.csm_user_id else None
    reporter = resolve_user(session, team_id, reporter_user_id) if reporter_user_id else None
    return render_facts(
        gathered,
        risk_name=risk_name,
        context_text=bounded(context.strip(), DRAFT_CONTEXT_CHARS),
        csm=csm.facts if csm else None,
        reporter=reporter.facts if reporter else None,
    )


def draft_steps(prep: _Prepared, drafter: Drafter) -> list[StepDraft]:
    drafts = []
    for step, who, to in zip(prep.template.steps, prep.assignees, prep.recipients, strict=True):
        facts = step_facts(prep.facts, recipient=to.facts if to else None, assignee=who.facts)
        drafts.append(drafter.draft(step, facts))
    return drafts


def _lock_account(session: Session, team_id: str, account_id: int) -> None:
    """Serialise reports on one account: a no-op UPDATE takes the row lock on PostgreSQL and
    the write lock on SQLite, so the open-case check after it sees any case just committed."""
    session.execute(
        update(Account)
        .where(col(Account.id) == account_id, col(Account.team_id) == team_id)
        .values(updated_at=Account.updated_at)
    )


def plan_meta(prep: _Prepared, drafts: list[StepDraft], offset: int = 0) -> list[dict[str, Any]]:
    """Per-step facts the card shows (subject, draft engine, gaps); positions after `offset`."""
    graph = anchors(prep.template.steps)
    meta = []
    for index, (step, draft, to, who) in enumerate(
        zip(prep.template.steps, drafts, prep.recipients, prep.assignees, strict=True)
    ):
        meta.append(
            {
                "position": offset + index + 1,
                "step_id": step.id,
                "waits_for": None if (after := graph[index]) is None else offset + after + 1,
                "subject": draft.subject,
                "engine": draft.engine,
                "fallback_reason": draft.fallback_reason,
                "missing": draft.missing,
                "recipient_known": to is None or to.known,
                "drafted_for": who.user_id,  # the card warns when the step is given to another
            }
        )
    return meta


def add_steps(
    session: Session,
    prep: _Prepared,
    drafts: list[StepDraft],
    case: Case,
    actor: str,
    now: dt.datetime,
    offset: int = 0,
) -> list[CaseStep]:
    """Insert the template's steps as planned CaseSteps at positions offset+1 …, audited."""
    team_id = case.team_id
    steps = []
    for index, (step, draft, who, to) in enumerate(
        zip(prep.template.steps, drafts, prep.assignees, prep.recipients, strict=True)
    ):
        row = CaseStep(
            team_id=team_id,
            case_id=case.id or 0,
            position=offset + index + 1,
            summary=step.summary,
            medium=str(step.medium),
            assignee_role=str(step.assignee),
            assignee_user_id=who.user_id,
            assignee_fallback=who.fallback,
            recipient_spec=str(step.recipient) if step.recipient else "",
            recipient_label=to.label if to else "",
            recipient_ref=to.ref if to else None,
            delay_seconds=int(step.delay.total_seconds()),
            draft=draft.text,
            status=StepStatus.PLANNED,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        steps.append(row)
        if who.user_id:
            get_person(session, team_id, who.user_id)  # so their digest finds them
    session.flush()
    for row in steps:
        audit.record(
            session,
            team_id,
            actor,
            "case_step",
            row.id,
            "planned",
            to_state=row.status,
            case_id=case.id,
            position=row.position,
            assignee=row.assignee_user_id,
            fallback=row.assignee_fallback or None,
        )
    return steps


def _write(
    session: Session, prep: _Prepared, drafts: list[StepDraft], now: dt.datetime
) -> ReportResult:
    request, account = prep.request, prep.account
    team_id, actor = request.team_id, request.reporter_user_id or "cli"
    _lock_account(session, team_id, account.id or 0)
    existing = open_case(session, team_id, account.id or 0, request.risk_key)
    if existing is not None:
        return _existing(session, existing)
    case = Case(
        team_id=team_id,
        account_id=account.id or 0,
        risk_key=request.risk_key,
        playbook_id=prep.playbook.id or 0,
        playbook_version=prep.playbook.version,
        reporter_user_id=request.reporter_user_id,
        owner_user_id=prep.owner_user_id,
        context=request.context.strip(),
        links=(request.links or "").strip() or None,
        gathered={
            **prep.gathered.to_json(),
            "plan": plan_meta(prep, drafts),
            **({"attachment": request.attachment} if request.attachment else {}),
        },
        status=CaseStatus.PLANNED,
        total_steps=len(prep.template.steps),
        opened_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    audit.record(
        session,
        team_id,
        actor,
        "case",
        case.id,
        "reported",
        to_state=case.status,
        account_id=account.id,
        risk=request.risk_key,
        playbook_version=prep.playbook.version,
        steps=case.total_steps,
    )
    steps = add_steps(session, prep, drafts, case, actor, now)
    return ReportResult(case, steps, account, prep.playbook, created=True)


def report_risk(
    engine: Engine,
    request: ReportRequest,
    drafter: Drafter | None = None,
    now: dt.datetime | None = None,
) -> ReportResult:
    """Turn a reported risk into a planned case, or return the open one for the same
    account and risk. Raises `ReportError` (with the modal field at fault) for bad input."""
    drafter = drafter or Drafter()
    now = now or clock.now()
    ensure_seeded_once(engine, request.team_id)
    with session_scope(engine) as session:
        prepared = _prepare(session, request)
    if isinstance(prepared, ReportResult):
        return prepared
    drafts = draft_steps(prepared, drafter)
    with session_scope(engine) as session:
        return _write(session, prepared, drafts, now)


def reporter_by_email(engine: Engine, team_id: str, email: str) -> str:
    """The Slack user id for `--reporter EMAIL` (cached people only)."""
    with session_scope(engine) as session:
        person = person_by_email(session, team_id, email)
    if person is None:
        raise ReportError(f"No Slack member with email {email} is known yet.", "reporter")
    return person.slack_user_id
