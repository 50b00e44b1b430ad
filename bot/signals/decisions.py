"""The CSM's decisions on a suggestion: Start plan (claimed, then linked to its case), Not
now (snooze) and Dismiss (with a reason and the rule's cooldown); who may decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import audit, clock
from bot.config import Settings, duration_hours
from bot.db import session_scope
from bot.models import Account, Case
from bot.people.service import is_cs_admin
from bot.signals import rules as rl
from bot.signals.models import (
    SUGGESTION,
    SignalError,
    SignalRule,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.signals.suggestions import get, refresh_dm, view
from bot.signals.views import SuggestionView
from bot.states import StateError, move

S = SuggestionStatus


def may_decide(session: Session, s: SignalSuggestion, actor: str, settings: Settings) -> bool:
    """The account's CSM, the case owner or a CS admin."""
    if actor and actor == s.csm_user_id:
        return True
    account = session.get(Account, s.account_id)
    if account is not None and account.csm_user_id == actor:
        return True
    if s.case_id is not None:
        case = session.get(Case, s.case_id)
        if case is not None and case.owner_user_id == actor:
            return True
    return is_cs_admin(session, s.team_id, actor, settings.cs_admins)


def _stale(s: SignalSuggestion) -> str:
    who = f" by <@{s.decided_by}>" if s.decided_by else ""
    return {
        S.STARTING: f"A plan is already being made for this{who}.",
        S.STARTED: f"This was already started{who} as case #{s.case_id}.",
        S.DISMISSED: f"This was already dismissed{who}.",
        S.CLOSED: f"This was already handled: case #{s.case_id} is closed.",
        S.SNOOZED: f"This was put aside{who}; I'll bring it back when the snooze ends.",
    }.get(S(s.status), "This suggestion has changed; see the latest message.")


def _checked(
    session: Session,
    team_id: str,
    suggestion_id: int,
    actor: str,
    settings: Settings,
    expected: Iterable[str],
) -> SignalSuggestion:
    s = get(session, team_id, suggestion_id)
    if not may_decide(session, s, actor, settings):
        who = f"<@{s.csm_user_id}>" if s.csm_user_id else "the account's CSM"
        raise SignalError(f"Only {who}, the case owner or a CS admin can decide this.")
    if s.status not in set(expected):
        raise SignalError(_stale(s))
    return s


def check(
    engine: Engine, team_id: str, suggestion_id: int, actor: str, settings: Settings
) -> SuggestionView:
    """The checks a Dismiss modal is opened after (the submit checks again); what it shows."""
    with session_scope(engine) as session:
        _checked(session, team_id, suggestion_id, actor, settings, (S.OPEN, S.SNOOZED))
        return view(session, team_id, suggestion_id)


def _move(session: Session, s: SignalSuggestion, action: str, **values: Any) -> str:
    """The suggestion's transition, guarded; a row that moved meanwhile is a stale click."""
    try:
        return move(session, SUGGESTION, s, action, updated_at=clock.now(), **values)
    except StateError:
        session.refresh(s)
        raise SignalError(_stale(s)) from None


def snooze(
    engine: Engine, settings: Settings, team_id: str, suggestion_id: int, actor: str
) -> dt.datetime:
    """Not now: asked again (a fresh DM) when the snooze ends; new signals still add to it."""
    now = clock.now()
    until = now + dt.timedelta(hours=duration_hours(settings.signal_snooze))
    with session_scope(engine) as session:
        s = _checked(session, team_id, suggestion_id, actor, settings, (S.OPEN,))
        _move(session, s, "snooze", snoozed_until=until, decided_by=actor, decided_at=now)
        refresh_dm(session, s, now)
        audit.record(
            session,
            team_id,
            actor,
            "signal_suggestion",
            suggestion_id,
            "snoozed",
            from_state=S.OPEN,
            to_state=S.SNOOZED,
            until=until.isoformat(),
        )
    return until


def _cooldown(session: Session, s: SignalSuggestion) -> dt.timedelta:
    row = session.exec(
        select(SignalRule).where(SignalRule.team_id == s.team_id, SignalRule.key == s.rule_key)
    ).first()
    try:
        return rl.rule_from_json(row.definition).cooldown if row else dt.timedelta(days=30)
    except ValueError:
        return dt.timedelta(days=30)


def dismiss(
    engine: Engine, settings: Settings, team_id: str, suggestion_id: int, actor: str, reason: str
) -> dt.datetime:
    """Dismiss with a reason; remembered for the rule's cooldown (signals then are counted
    against this dismissal, not re-suggested)."""
    reason = (reason or "").strip()
    if not reason:
        raise SignalError("Say in a few words why (it tells the team which signals are noise).")
    now = clock.now()
    with session_scope(engine) as session:
        s = _checked(session, team_id, suggestion_id, actor, settings, (S.OPEN, S.SNOOZED))
        until = now + _cooldown(session, s)
        before = _move(
            session,
            s,
            "dismiss",
            active_key=None,
            cooldown_until=until,
            dismiss_reason=reason[:1000],
            decided_by=actor,
            decided_at=now,
            snoozed_until=None,
        )
        refresh_dm(session, s, now)
        audit.record(
            session,
            team_id,
            actor,
            "signal_suggestion",
            suggestion_id,
            "dismissed",
            from_state=before,
            to_state=S.DISMISSED,
            reason=reason[:300],
            cooldown_until=until.isoformat(),
        )
    return until


@dataclass(frozen=True)
class Starting:
    suggestion_id: int
    team_id: str
    account_id: int
    playbook_key: str
    context: str
    previous: str


def begin_start(
    engine: Engine, settings: Settings, team_id: str, suggestion_id: int, actor: str
) -> Starting:
    """Start plan, first half: claim it (a second click is told it is under way)."""
    with session_scope(engine) as session:
        s = _checked(session, team_id, suggestion_id, actor, settings, (S.OPEN, S.SNOOZED))
        before = _move(
            session, s, "start", decided_by=actor, decided_at=clock.now(), snoozed_until=None
        )
        refresh_dm(session, s)
        audit.record(
            session,
            team_id,
            actor,
            "signal_suggestion",
            suggestion_id,
            "start_clicked",
            from_state=before,
            to_state=S.STARTING,
        )
        v = view(session, team_id, suggestion_id, shown=10)
        return Starting(
            suggestion_id, team_id, s.account_id, s.playbook_key, case_context(v), before
        )


def case_context(v: SuggestionView) -> str:
    """What the case says happened: the signals that fired, with values and sources."""
    lines = [f"Suggested by Followthrough from {v.signal_count} signal(s):"]
    for e in v.evidence:
        value = f"{e.value:g}" if e.value is not None else (e.text or "")
        prev = f" (was {e.previous:g})" if e.previous is not None else ""
        extra = f" — {e.reason}" if e.reason else ""
        lines.append(
            f"- {e.signal_type} {value}{prev} from {e.source}, "
            f"{e.at:%Y-%m-%d}: {e.rule_name}: {e.why}{extra}"
        )
    return "\n".join(lines)[:3500]


def finish_start(
    engine: Engine, start: Starting, actor: str, case_id: int | None, error: str | None = None
) -> None:
    """Start plan, second half: the case is linked (or, on failure, the suggestion reopens)."""
    with session_scope(engine) as session:
        s = session.get(SignalSuggestion, start.suggestion_id)
        if s is None or s.status != S.STARTING:
            return
        if case_id is None:
            move(session, SUGGESTION, s, "start_failed", updated_at=clock.now())
            audit.record(
                session,
                s.team_id,
                actor,
                "signal_suggestion",
                s.id,
                "start_failed",
                from_state=S.STARTING,
                to_state=S.OPEN,
                error=(error or "")[:300],
            )
        else:
            move(session, SUGGESTION, s, "started", case_id=case_id, updated_at=clock.now())
            audit.record(
                session,
                s.team_id,
                actor,
                "signal_suggestion",
                s.id,
                "started",
                from_state=S.STARTING,
                to_state=S.STARTED,
                case_id=case_id,
            )
        refresh_dm(session, s)
