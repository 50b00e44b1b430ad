"""Extending a case whose steps are all done with another playbook's steps."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import audit, clock
from bot.cases.drafting import Drafter
from bot.cases.engine import schedule_step
from bot.cases.records import CaseError, Outbox, get_case, is_admin, owner_of
from bot.cases.report import (
    ReportRequest,
    add_steps,
    case_steps,
    draft_steps,
    plan_meta,
    plan_steps,
)
from bot.cases.steps import CASE
from bot.config import Settings
from bot.db import session_scope
from bot.models import (
    Account,
    Case,
    CaseStatus,
    CaseStep,
    Playbook,
)
from bot.playbooks.service import active_playbooks, get_playbook
from bot.slack.blocks.common import user_mention
from bot.states import StateError, move

log = logging.getLogger(__name__)

# --- extending a case with another playbook ------------------------------------------


@dataclass
class Extension:
    case: Case
    steps: list[CaseStep]
    playbook: Playbook
    account: str
    first_due: dt.datetime
    outbox: Outbox  # flush it: the card shows the new steps


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


def may_extend(
    engine: Engine, team_id: str, case_id: int, playbook_key: str, actor: str, settings: Settings
) -> None:
    """`check_extend` in its own transaction: the quick answer before drafting starts."""
    with session_scope(engine) as session:
        check_extend(session, team_id, case_id, playbook_key, actor, settings)


def extend_case(
    engine: Engine,
    team_id: str,
    case_id: int,
    playbook_key: str,
    actor: str,
    now: dt.datetime | None = None,
    drafter: Drafter | None = None,
    *,
    settings: Settings,
) -> Extension:
    """Append another playbook's steps to a case whose steps are all done, and run them.

    The new steps are planned exactly like a new report's (same context, people resolved
    the same way, drafted by `drafter`), numbered after the last step; the case is running
    again and its next step scheduled after its delay in the assignee's working hours.
    Drafting happens outside any transaction; the write re-checks the case's state, so two
    owners choosing at once extend it once (the other gets CaseError).
    """
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
        prep = plan_steps(session, request, account, playbook)
    drafts = draft_steps(prep, drafter)
    with session_scope(engine) as session:
        case = get_case(session, team_id, case_id)
        try:
            move(session, CASE, case, "extend", updated_at=now)
        except StateError:
            raise CaseError(
                f"Case #{case_id} was extended or closed meanwhile; nothing changed."
            ) from None
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
        plan = [*(gathered.get("plan") or []), *plan_meta(prep, drafts, offset)]
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
        steps = add_steps(session, prep, drafts, case, actor, now, offset)
        due = schedule_step(session, case, steps[0], now, settings, actor=actor)
        return Extension(case, steps, playbook, account.name, due, Outbox(session, case))
