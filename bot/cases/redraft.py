"""A step given to someone else before the plan starts gets a draft written for them.

The draft names and is signed by its assignee, so after a reassignment it is written again
from the step's playbook template (the version the case runs) with the new assignee's facts,
by the same drafter as planning. A draft someone wrote by hand is kept — it is their words —
and the card warns that it was written for the previous assignee (`drafted_for` in the
case's plan meta differs from the step's assignee).

Like planning, it reads, drafts outside any transaction (an LLM may be slow), then writes only
if the step is still as it was read: still planned, same assignee, same draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import audit
from bot.accounts.service import contacts_by_role
from bot.cases.context import Gathered
from bot.cases.drafting import Drafter
from bot.cases.plan_edits import plan_meta, with_plan_meta
from bot.cases.report import case_facts, resolve_recipient, resolve_user
from bot.db import session_scope
from bot.models import Account, AuditEvent, Case, CaseStatus, CaseStep, Playbook, StepStatus
from bot.playbooks.plan import step_facts
from bot.playbooks.schema import StepTemplate
from bot.playbooks.service import template_of


@dataclass(frozen=True)
class Redraft:
    position: int
    outcome: str  # redrafted | kept (hand-edited) | unchanged | stale (changed meanwhile)


def hand_edited(session: Session, team_id: str, step_id: int) -> bool:
    """True once someone wrote this step's draft themselves (audit `draft_edited`)."""
    return (
        session.exec(
            select(AuditEvent.id).where(
                AuditEvent.team_id == team_id,
                AuditEvent.entity == "case_step",
                AuditEvent.entity_id == step_id,
                AuditEvent.action == "draft_edited",
            )
        ).first()
        is not None
    )


def playbook_for(case: Case, position: int) -> int:
    """The playbook version a step came from: the case's own, or the extension that added it."""
    playbook_id = case.playbook_id
    for ext in (case.gathered or {}).get("extensions") or []:
        start = ext.get("from_position") if isinstance(ext, dict) else None
        if isinstance(start, int) and position >= start and ext.get("playbook_id"):
            playbook_id = int(ext["playbook_id"])
    return playbook_id


@dataclass
class _Work:
    template_step: StepTemplate
    facts: Any
    draft: str
    assignee: str | None


def _read(session: Session, case: Case, step: CaseStep) -> _Work | None:
    meta = plan_meta(case, step.position)
    playbook = session.get(Playbook, playbook_for(case, step.position))
    account = session.get(Account, case.account_id)
    if playbook is None or playbook.team_id != case.team_id or account is None:
        return None
    template = template_of(playbook)
    found = next((s for s in template.steps if s.id == meta.get("step_id")), None)
    if found is None:
        return None
    gathered = Gathered.from_json(case.gathered or {})
    facts = case_facts(
        session,
        case.team_id,
        account,
        gathered,
        risk_name=template.name,
        context=case.context,
        reporter_user_id=case.reporter_user_id,
    )
    recipient = (
        resolve_recipient(
            session,
            case.team_id,
            found.recipient,
            account,
            contacts_by_role(session, case.team_id, account.id or 0),
        )
        if found.recipient
        else None
    )
    assignee = (
        resolve_user(session, case.team_id, step.assignee_user_id)
        if step.assignee_user_id
        else None
    )
    return _Work(
        found,
        step_facts(
            facts,
            recipient=recipient.facts if recipient else None,
            assignee=assignee.facts if assignee else None,
        ),
        step.draft,
        step.assignee_user_id,
    )


def _current(
    session: Session, team_id: str, case_id: int, position: int
) -> tuple[Case, CaseStep] | None:
    case = session.get(Case, case_id)
    if case is None or case.team_id != team_id or case.status != CaseStatus.PLANNED:
        return None
    step = session.exec(
        select(CaseStep).where(
            CaseStep.team_id == team_id, CaseStep.case_id == case_id, CaseStep.position == position
        )
    ).first()
    if step is None or step.status != StepStatus.PLANNED:
        return None
    return case, step


def redraft_step(
    engine: Engine,
    team_id: str,
    case_id: int,
    position: int,
    actor: str,
    drafter: Drafter | None = None,
) -> Redraft:
    """Write the step's draft again for its current assignee (after `reassign_step`)."""
    drafter = drafter or Drafter()
    with session_scope(engine) as session:
        found = _current(session, team_id, case_id, position)
        if found is None:
            return Redraft(position, "stale")
        case, step = found
        meta = plan_meta(case, position)
        if meta.get("drafted_for") == step.assignee_user_id:
            return Redraft(position, "unchanged")
        if hand_edited(session, team_id, step.id or 0):
            audit.record(
                session,
                team_id,
                actor,
                "case_step",
                step.id,
                "draft_kept",
                case_id=case_id,
                position=position,
                reason="edited by hand",
                drafted_for=meta.get("drafted_for"),
                assignee=step.assignee_user_id,
            )
            return Redraft(position, "kept")
        work = _read(session, case, step)
    if work is None:
        return Redraft(position, "stale")
    new = drafter.draft(work.template_step, work.facts)
    with session_scope(engine) as session:
        found = _current(session, team_id, case_id, position)
        if found is None:
            return Redraft(position, "stale")
        case, step = found
        if step.assignee_user_id != work.assignee or step.draft != work.draft:
            return Redraft(position, "stale")  # changed again meanwhile; that change decides
        before, before_for = step.draft, plan_meta(case, position).get("drafted_for")
        step.draft = new.text
        case.gathered = with_plan_meta(
            case.gathered,
            position,
            drafted_for=work.assignee,
            subject=new.subject,
            engine=new.engine,
            fallback_reason=new.fallback_reason,
            missing=new.missing,
        )
        session.add(step)
        session.add(case)
        audit.record(
            session,
            team_id,
            actor,
            "case_step",
            step.id,
            "redrafted",
            case_id=case_id,
            position=position,
            engine=new.engine,
            drafted_for_before=before_for,
            drafted_for=work.assignee,
            before=before,
            after=new.text,
        )
    return Redraft(position, "redrafted")
