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
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.cases.context import Gathered, bounded, gather, person_facts, render_facts
from bot.cases.drafting import Drafter, StepDraft
from bot.cases.records import CaseError, Outbox, get_case, is_admin, owner_of
from bot.cases.steps import next_case_state
from bot.config import Settings
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
    Workspace,
)
from bot.people.service import person_by_email
from bot.playbooks.checks import anchors
from bot.playbooks.plan import step_facts
from bot.playbooks.schema import (
    Assignee,
    AssigneeRole,
    PlaybookTemplate,
    Recipient,
    RecipientKind,
)
from bot.playbooks.store import active_playbooks, ensure_seeded_once, get_playbook, template_of
from bot.slack.blocks.common import user_mention

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
    return _plan(session, request, account, playbook)


def _plan(
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


def _drafts(prep: _Prepared, drafter: Drafter) -> list[StepDraft]:
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


def _plan_meta(prep: _Prepared, drafts: list[StepDraft], offset: int = 0) -> list[dict[str, Any]]:
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
                "waits_for": offset + graph[index] + 1 if graph[index] is not None else None,
                "subject": draft.subject,
                "engine": draft.engine,
                "fallback_reason": draft.fallback_reason,
                "missing": draft.missing,
                "recipient_known": to is None or to.known,
                "drafted_for": who.user_id,  # the card warns when the step is given to another
            }
        )
    return meta


def _add_steps(
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
            "plan": _plan_meta(prep, drafts),
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
    steps = _add_steps(session, prep, drafts, case, actor, now)
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
    drafts = _drafts(prepared, drafter)
    with session_scope(engine) as session:
        return _write(session, prepared, drafts, now)


# --- extending a case with another playbook ------------------------------------------


@dataclass
class Extension:
    case: Case
    steps: list[CaseStep]
    playbook: Playbook
    account: str
    first_due: dt.datetime
    outbox: Outbox  # flush it (with the engine): the card shows the new steps


def playbooks_in(case: Case) -> set[str]:
    """Keys of the playbooks a case already runs: its own and any it was extended with."""
    used = {case.risk_key}
    for ext in (case.gathered or {}).get("extensions") or []:
        if isinstance(ext, dict) and ext.get("key"):
            used.add(str(ext["key"]))
    return used


def attached_transcript(case: Case) -> int | None:
    """The transcript the report came with, if it was read (quoted again by extensions)."""
    found = (case.gathered or {}).get("attachment") or {}
    value = found.get("context_transcript_id") if isinstance(found, dict) else None
    return int(value) if isinstance(value, int) else None


def extension_choices(session: Session, case: Case) -> list[tuple[str, str]]:
    """(key, name) of the team's active playbooks the case has not used yet."""
    used = playbooks_in(case)
    return [(p.key, p.name) for p in active_playbooks(session, case.team_id) if p.key not in used]


def check_extend(
    session: Session, team_id: str, case_id: int, playbook_key: str, actor: str, settings: Settings
) -> tuple[Case, Playbook]:
    """The case and the playbook to add, if `actor` may extend it now; CaseError says why not.
    Only the case owner or a CS admin may: extending commits people to more work."""
    case = get_case(session, team_id, case_id)
    owner = owner_of(case)
    if actor != owner and not is_admin(session, team_id, actor, settings):
        raise CaseError(
            f"Only {user_mention(owner, 'the case owner')} or a CS admin can extend this case."
        )
    if case.status != CaseStatus.AWAITING_CLOSE:
        raise CaseError(
            f"Case #{case_id} is {case.status.replace('_', ' ')}; only a case "
            "whose steps are all done can be extended."
        )
    if playbook_key in playbooks_in(case):
        raise CaseError("This case already ran that playbook; pick another one.")
    playbook = get_playbook(session, team_id, playbook_key)
    if playbook is None:
        raise CaseError(f"No active playbook '{playbook_key}'; pick another one.")
    return case, playbook


def extend_case(
    engine: Engine,
    team_id: str,
    case_id: int,
    playbook_key: str,
    actor: str,
    now: dt.datetime | None = None,
    drafter: Drafter | None = None,
    *,
    settings: Settings | None = None,
) -> Extension:
    """Append another playbook's steps to a case whose steps are all done, and run them.

    The new steps are planned exactly like a new report's (same context, people resolved
    the same way, drafted by `drafter`), numbered after the last step; the case is running
    again and its next step scheduled after its delay in the assignee's working hours.
    Drafting happens outside any transaction; the write re-checks the case's state, so two
    owners choosing at once extend it once (the other gets CaseError).
    """
    from bot.cases.engine import CASE_TABLE, schedule_step
    from bot.cases.engine import _settings as env_settings

    settings = settings or env_settings()
    drafter = drafter or Drafter()
    now = now or clock.now()
    with session_scope(engine) as session:
        case, playbook = check_extend(session, team_id, case_id, playbook_key, actor, settings)
        account = session.get(Account, case.account_id)
        if account is None or account.team_id != team_id:
            raise CaseError("The case's account no longer exists.")
        request = ReportRequest(
            team_id=team_id,
            risk_key=playbook.key,
            context=case.context,
            reporter_user_id=case.reporter_user_id,
            account_id=account.id,
            attached_transcript_id=attached_transcript(case),
        )
        prep = _plan(session, request, account, playbook)
    drafts = _drafts(prep, drafter)
    with session_scope(engine) as session:
        won = session.execute(
            update(CASE_TABLE)
            .where(
                CASE_TABLE.c.id == case_id,
                CASE_TABLE.c.team_id == team_id,
                CASE_TABLE.c.status == CaseStatus.AWAITING_CLOSE,
            )
            .values(status=next_case_state("extend", CaseStatus.AWAITING_CLOSE), updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            raise CaseError(f"Case #{case_id} was extended or closed meanwhile; nothing changed.")
        case = get_case(session, team_id, case_id)
        session.refresh(case)
        offset = max((x.position for x in case_steps(session, team_id, case_id)), default=0)
        gathered = dict(case.gathered or {})
        extensions = [
            *(gathered.get("extensions") or []),
            {
                "key": playbook.key,
                "version": playbook.version,
                "playbook_id": playbook.id,
                "from_position": offset + 1,
                "by": actor,
                "at": now.isoformat(),
            },
        ]
        plan = [*(gathered.get("plan") or []), *_plan_meta(prep, drafts, offset)]
        case.gathered = {**gathered, "plan": plan, "extensions": extensions}
        case.total_steps = (case.total_steps or 0) + len(drafts)
        session.add(case)
        audit.record(
            session,
            team_id,
            actor,
            "case",
            case.id,
            "extended",
            from_state=CaseStatus.AWAITING_CLOSE,
            to_state=CaseStatus.RUNNING,
            playbook=playbook.key,
            playbook_version=playbook.version,
            from_position=offset + 1,
            steps=len(drafts),
        )
        steps = _add_steps(session, prep, drafts, case, actor, now, offset)
        due = schedule_step(session, case, steps[0], now, settings, actor=actor)
        return Extension(case, steps, playbook, account.name, due, Outbox(case.id))


def reporter_by_email(engine: Engine, team_id: str, email: str) -> str:
    """The Slack user id for `--reporter EMAIL` (cached people only)."""
    with session_scope(engine) as session:
        person = person_by_email(session, team_id, email)
    if person is None:
        raise ReportError(f"No Slack member with email {email} is known yet.", "reporter")
    return person.slack_user_id


# --- telling people ----------------------------------------------------------------------


def card_for(session: Session, case: Case) -> tuple[str, list[dict[str, Any]]]:
    """The case card's text and blocks, as it stands now: the plan with its edit controls
    while planned; once started, the step engine's status card (each step's state, the
    outcome) with the case controls — the same card `/case 42` shows."""
    from bot.cases.cards import card_text, case_card

    account = session.get(Account, case.account_id)
    playbook = session.get(Playbook, case.playbook_id)
    account_name = account.name if account else f"account {case.account_id}"
    playbook_name = playbook.name if playbook else case.risk_key
    text = card_text(case, account_name, playbook_name)
    if case.status != CaseStatus.PLANNED:
        from bot.cases import control
        from bot.cases import step_messages as msgs

        return text, msgs.case_card(control.card(session, case.team_id, case.id or 0))
    steps = case_steps(session, case.team_id, case.id or 0)
    blocks = case_card(case, steps, account_name=account_name, playbook_name=playbook_name)
    return text, blocks


def announce_case(
    engine: Engine, notifier: Any, team_id: str, case_id: int, cs_channel: str | None
) -> None:
    """Post the card to the team's CS channel (Workspace.cs_channel_id, else CS_CHANNEL) and
    DM it to the reporter; remember
    where, so later changes update those messages instead of posting new ones. A failed
    post is logged and does not undo the case."""
    from bot.notify import DeliveryError

    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.team_id != team_id:
            return
        text, blocks = card_for(session, case)
        reporter = case.reporter_user_id
        workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
        if workspace is not None and workspace.cs_channel_id:
            cs_channel = workspace.cs_channel_id  # the team's own choice beats the default
    posted_channel = posted_dm = None
    if cs_channel:
        try:
            posted_channel = notifier.post(team_id, cs_channel, text, blocks)
        except DeliveryError as exc:
            log.warning("case %s card not posted to the CS channel: %s", case_id, exc)
    if reporter:
        try:
            posted_dm = notifier.dm(team_id, reporter, text, blocks)
        except DeliveryError as exc:
            log.warning("case %s card not sent to the reporter: %s", case_id, exc)
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            return
        if posted_channel is not None:
            case.card_channel, case.card_ts = posted_channel.channel, posted_channel.ts
        if posted_dm is not None:
            case.reporter_channel, case.reporter_ts = posted_dm.channel, posted_dm.ts
        session.add(case)


_CARD_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_CARD_LOCKS_GUARD = threading.Lock()


def _card_lock(team_id: str, case_id: int) -> threading.Lock:
    with _CARD_LOCKS_GUARD:
        return _CARD_LOCKS.setdefault((team_id, case_id), threading.Lock())


def refresh_cards(engine: Engine, notifier: Any, team_id: str, case_id: int) -> None:
    """Re-render the case card wherever it was posted (after a plan edit, a start, and — via
    `records.Outbox.flush` — every change the step engine or case control makes).

    Refreshes of one case are serialised and each reads the case inside the lock, so two
    changes in quick succession can never leave the older picture on the card."""
    with _card_lock(team_id, case_id):
        _refresh_cards(engine, notifier, team_id, case_id)


def _refresh_cards(engine: Engine, notifier: Any, team_id: str, case_id: int) -> None:
    from bot.notify import DeliveryError

    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.team_id != team_id:
            return
        places = [
            (c, ts)
            for c, ts in (
                (case.card_channel, case.card_ts),
                (case.reporter_channel, case.reporter_ts),
            )
            if c and ts
        ]
        if not places:
            return  # a case from the CLI or a test: no card to keep current
        text, blocks = card_for(session, case)
    for channel, ts in places:
        try:
            notifier.update(team_id, channel, ts, text, blocks)
        except DeliveryError as exc:
            log.warning("case %s card not updated in %s: %s", case_id, channel, exc)


# --- what the /report-risk modal needs ---------------------------------------------------


@dataclass(frozen=True)
class ReportForm:
    risks: list[tuple[str, str]]  # (key, name) of the team's active playbooks
    account: tuple[int, str] | None  # pre-filled account
    note: str | None  # said to the user before the modal opens (e.g. unknown account)


def report_form(engine: Engine, team_id: str, text: str = "") -> ReportForm:
    """Playbooks to choose from (seeded on first use) and the account typed after the
    command, if it names exactly one."""
    from bot.accounts.service import find_account as by_text
    from bot.playbooks.store import active_playbooks

    typed = " ".join((text or "").split())
    ensure_seeded_once(engine, team_id)
    with session_scope(engine) as session:
        risks = [(p.key, p.name) for p in active_playbooks(session, team_id)]
        account = by_text(session, team_id, typed) if typed else None
        found = (account.id or 0, account.name) if account else None
    note = None
    if typed and found is None:
        note = (
            f"I couldn't find an account called '{typed[:80]}'. Pick it from the list in "
            "the form (search by name or domain), or import it first with "
            "`followthrough accounts import`."
        )
    return ReportForm(risks, found, note)


def form_errors(engine: Engine, request: ReportRequest) -> dict[str, str]:
    """Field-level problems (modal block id → message), checked before the modal closes."""
    errors: dict[str, str] = {}
    if request.account_id is None:
        errors["account"] = "Pick the account at risk."
    if not request.risk_key or request.risk_key == "-":
        errors["risk"] = "Pick the kind of risk."
    try:
        check_request(request)
    except ReportError as exc:
        errors[exc.field or "context"] = str(exc)
    if errors:
        return errors
    with session_scope(engine) as session:
        try:
            find_account(session, request)
        except ReportError as exc:
            errors["account"] = "That account no longer exists; pick another one."
            log.info("report form: %s", exc)
        if get_playbook(session, request.team_id, request.risk_key) is None:
            errors["risk"] = "That playbook was retired; pick another risk type."
    return errors


def is_repeat_submission(result: ReportResult, request: ReportRequest) -> bool:
    """The same person sent the same report twice (a double-clicked modal): say nothing new."""
    return (
        not result.created
        and result.case.reporter_user_id == request.reporter_user_id
        and result.case.context == request.context.strip()
    )
