"""Changes to a plan before it starts: reassign a step, change a delay, drop a step, edit a
draft. Each is checked (who may, and that the plan has not started), applied, and audited
in the caller's transaction; once a case runs the plan is fixed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import audit, clock
from bot.cases.steps import STEP
from bot.config import Settings
from bot.db import session_scope
from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.playbooks.durations import DelayError, format_delay, parse_delay
from bot.playbooks.render import find_placeholders
from bot.playbooks.service import is_admin
from bot.states import move

MAX_DRAFT_CHARS = 3000


class PlanEditError(ValueError):
    """A change that cannot be made; the message is safe to show to the person who asked."""


def may_edit(session: Session, case: Case, user_id: str, cs_admins: Iterable[str]) -> bool:
    """The reporter, the case owner and CS admins may change or start a plan."""
    if user_id in {case.reporter_user_id, case.owner_user_id}:
        return True
    return is_admin(session, case.team_id, user_id, cs_admins)


def load_case(session: Session, team_id: str, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None or case.team_id != team_id:
        raise PlanEditError("That case no longer exists.")
    return case


def _step(session: Session, team_id: str, case_id: int, position: int) -> CaseStep:
    step = session.exec(
        select(CaseStep).where(
            CaseStep.team_id == team_id, CaseStep.case_id == case_id, CaseStep.position == position
        )
    ).first()
    if step is None:
        raise PlanEditError(f"Step {position} is not part of this plan.")
    return step


def editable_step(
    session: Session,
    team_id: str,
    case_id: int,
    position: int,
    actor: str,
    cs_admins: Iterable[str],
) -> tuple[Case, CaseStep]:
    """The case and step, if `actor` may change it now; `PlanEditError` says why not."""
    case = load_case(session, team_id, case_id)
    if not may_edit(session, case, actor, cs_admins):
        raise PlanEditError("Only the reporter, the case owner or a CS admin can change this plan.")
    if case.status != CaseStatus.PLANNED:
        raise PlanEditError(
            f"This plan is already {case.status}; steps are now changed from their DMs (Edit / No)."
        )
    step = _step(session, team_id, case_id, position)
    if step.status != StepStatus.PLANNED:
        raise PlanEditError(f"Step {position} was {step.status}; it cannot be changed.")
    return case, step


def plan_meta(case: Case, position: int) -> dict[str, Any]:
    """The card's facts about one step (`Case.gathered["plan"]`), empty when none."""
    for entry in (case.gathered or {}).get("plan") or []:
        if isinstance(entry, Mapping) and entry.get("position") == position:
            return dict(entry)
    return {}


def with_plan_meta(
    gathered: Mapping[str, Any] | None, position: int, **changes: Any
) -> dict[str, Any]:
    """A new `gathered` with one step's plan meta changed (a new dict, so the JSON column is
    seen as changed)."""
    plan = []
    for entry in (gathered or {}).get("plan") or []:
        if isinstance(entry, Mapping) and entry.get("position") == position:
            entry = {**entry, **changes}
        plan.append(entry)
    return {**(gathered or {}), "plan": plan}


def _touch(session: Session, case: Case, step: CaseStep) -> None:
    now = clock.now()
    step.updated_at = case.updated_at = now
    session.add(step)
    session.add(case)


def reassign_step(
    session: Session,
    team_id: str,
    case_id: int,
    position: int,
    user_id: str,
    actor: str,
    cs_admins: Iterable[str] = (),
) -> CaseStep:
    """Give the step to `user_id`; its draft, written for the previous assignee, is then
    written again by `bot.cases.redraft.redraft_step` (slow with an LLM, so the caller runs it
    after answering)."""
    case, step = editable_step(session, team_id, case_id, position, actor, cs_admins)
    if not user_id:
        raise PlanEditError("Pick the person who should do this step.")
    before = step.assignee_user_id
    step.assignee_user_id, step.assignee_fallback = user_id, False
    _touch(session, case, step)
    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "reassigned",
        case_id=case_id,
        position=position,
        before=before,
        after=user_id,
    )
    return step


def change_delay(
    session: Session,
    team_id: str,
    case_id: int,
    position: int,
    delay: str,
    actor: str,
    cs_admins: Iterable[str] = (),
) -> CaseStep:
    case, step = editable_step(session, team_id, case_id, position, actor, cs_admins)
    try:
        seconds = int(parse_delay(delay.strip()).total_seconds())
    except DelayError as exc:
        raise PlanEditError(str(exc)) from None
    before = step.delay_seconds
    step.delay_seconds = seconds
    _touch(session, case, step)
    from datetime import timedelta

    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "delay_changed",
        case_id=case_id,
        position=position,
        before=format_delay(timedelta(seconds=before)),
        after=format_delay(timedelta(seconds=seconds)),
    )
    return step


def drop_step(
    session: Session,
    team_id: str,
    case_id: int,
    position: int,
    actor: str,
    cs_admins: Iterable[str] = (),
) -> CaseStep:
    case, step = editable_step(session, team_id, case_id, position, actor, cs_admins)
    live = session.exec(
        select(CaseStep).where(
            CaseStep.team_id == team_id,
            CaseStep.case_id == case_id,
            CaseStep.status == StepStatus.PLANNED,
        )
    ).all()
    if len(live) <= 1:
        raise PlanEditError("This is the last step left; cancel the case instead of dropping it.")
    move(session, STEP, step, "drop")
    case.total_steps = len(live) - 1
    _touch(session, case, step)
    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "dropped",
        from_state=StepStatus.PLANNED,
        to_state=StepStatus.CANCELLED,
        case_id=case_id,
        position=position,
    )
    return step


def edit_draft(
    session: Session,
    team_id: str,
    case_id: int,
    position: int,
    text: str,
    actor: str,
    cs_admins: Iterable[str] = (),
) -> CaseStep:
    case, step = editable_step(session, team_id, case_id, position, actor, cs_admins)
    text = (text or "").strip()
    if not text:
        raise PlanEditError("The draft cannot be empty; drop the step instead.")
    if len(text) > MAX_DRAFT_CHARS:
        raise PlanEditError(
            f"The draft is {len(text):,} characters; at most "
            f"{MAX_DRAFT_CHARS:,} fit in one Slack message."
        )
    leftovers = sorted(find_placeholders(text))
    if leftovers:
        raise PlanEditError(
            "The draft still has placeholders: "
            + ", ".join("{" + n + "}" for n in leftovers)
            + "; write the actual text."
        )
    before = len(step.draft)
    step.draft = text
    # written by a person for whoever does the step now: no "written for someone else" warning
    case.gathered = with_plan_meta(case.gathered, position, drafted_for=step.assignee_user_id)
    _touch(session, case, step)
    audit.record(
        session,
        team_id,
        actor,
        "case_step",
        step.id,
        "draft_edited",
        case_id=case_id,
        position=position,
        chars_before=before,
        chars_after=len(text),
    )
    return step


def start_plan(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    cs_admins: Iterable[str] = (),
    expected: str = CaseStatus.PLANNED,
    *,
    settings: Settings,
) -> Case:
    """Permission and state check, then the engine's `start_case` (which schedules step 1
    within the assignee's working hours as `settings` define them — pass rt.settings).

    A second click (the case already running) raises `PlanEditError` with a polite answer."""
    case = load_case(session, team_id, case_id)
    if not may_edit(session, case, actor, cs_admins):
        raise PlanEditError("Only the reporter, the case owner or a CS admin can start this plan.")
    if case.status != expected:
        raise PlanEditError(f"This plan is already {case.status}.")
    from bot.cases.engine import start_case
    from bot.cases.records import CaseError
    from bot.cases.steps import StateError

    try:
        return start_case(session, team_id, case_id, actor, clock.now(), settings=settings)
    except (CaseError, StateError) as exc:  # e.g. every step was dropped, or a concurrent Start won
        raise PlanEditError(str(exc)) from None


# --- one-transaction wrappers for the Slack layer ------------------------------------------


def step_for_edit(
    engine: Engine, team_id: str, case_id: int, position: int, actor: str, cs_admins: Iterable[str]
) -> CaseStep:
    """The step to show in an edit modal, if `actor` may change it now."""
    with session_scope(engine) as session:
        return editable_step(session, team_id, case_id, position, actor, cs_admins)[1]


EDITS = {
    "draft": edit_draft,
    "delay": change_delay,
    "reassign": reassign_step,
}


def apply_edit(
    engine: Engine,
    team_id: str,
    case_id: int,
    position: int,
    op: str,
    value: str | None,
    actor: str,
    cs_admins: Iterable[str],
) -> CaseStep:
    """Run one plan edit (`draft`, `delay`, `reassign` with a value, or `drop`)."""
    with session_scope(engine) as session:
        if op == "drop":
            return drop_step(session, team_id, case_id, position, actor, cs_admins)
        edit = EDITS.get(op)
        if edit is None:
            raise PlanEditError("That change is not available.")
        return edit(session, team_id, case_id, position, value or "", actor, cs_admins)


def start(
    engine: Engine,
    team_id: str,
    case_id: int,
    actor: str,
    cs_admins: Iterable[str],
    expected: str = CaseStatus.PLANNED,
    *,
    settings: Settings,
) -> Case:
    with session_scope(engine) as session:
        return start_plan(session, team_id, case_id, actor, cs_admins, expected, settings=settings)
