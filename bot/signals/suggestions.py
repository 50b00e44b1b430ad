"""A suggestion as the CSM sees it: what its DM shows, the DM and its edits through the
outbox, and the moves nobody clicks (a snooze runs out, its case closes, a start is stuck)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.db import autocommit, session_scope
from bot.models import Account, Case, CaseStatus
from bot.signals.models import (
    SUGGESTION,
    SignalError,
    SignalEvent,
    SignalEvidence,
    SignalRule,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.signals.views import EvidenceLine, SuggestionView
from bot.states import move

S = SuggestionStatus


OPEN_CASE = tuple(
    str(s)
    for s in (
        CaseStatus.PLANNING,
        CaseStatus.PLANNED,
        CaseStatus.RUNNING,
        CaseStatus.PAUSED,
        CaseStatus.AWAITING_CLOSE,
    )
)


# --- what the DM shows --------------------------------------------------------------------


def view(session: Session, team_id: str, suggestion_id: int, shown: int = 8) -> SuggestionView:
    s = get(session, team_id, suggestion_id)
    account = session.get(Account, s.account_id)
    from bot.playbooks.service import get_playbook

    book = get_playbook(session, team_id, s.playbook_key)
    names = {
        r.key: r.definition.get("name", r.key)
        for r in session.exec(select(SignalRule).where(SignalRule.team_id == team_id))
    }
    rows = session.exec(
        select(SignalEvidence, SignalEvent)
        .join(SignalEvent, col(SignalEvent.id) == col(SignalEvidence.signal_id))
        .where(SignalEvidence.suggestion_id == s.id, SignalEvidence.suppressed == False)  # noqa: E712
        .order_by(col(SignalEvidence.id).desc())
        .limit(shown)
    )
    lines = tuple(
        EvidenceLine(
            e.signal_type,
            e.value,
            e.previous_value,
            e.value_text,
            e.source,
            clock.as_utc(e.occurred_at),
            ev.why,
            str(names.get(ev.rule_key, ev.rule_key)),
            str((e.context or {}).get("reason") or (e.context or {}).get("subject") or "") or None,
        )
        for ev, e in rows
    )
    return SuggestionView(
        s.id or 0,
        s.status,
        account.name if account else f"account {s.account_id}",
        s.risk_key,
        book.name if book else s.playbook_key,
        s.csm_user_id,
        s.signal_count,
        lines,
        s.case_id,
        clock.as_utc(s.snoozed_until) if s.snoozed_until else None,
        clock.as_utc(s.cooldown_until) if s.cooldown_until else None,
        s.decided_by,
        s.dismiss_reason,
        s.outcome,
    )


def get(session: Session, team_id: str, suggestion_id: int) -> SignalSuggestion:
    s = session.get(SignalSuggestion, suggestion_id)
    if s is None or s.team_id != team_id:
        raise SignalError("That suggestion no longer exists.")
    return s


# --- the CSM's DM, through the outbox ----------------------------------------------------

DM_KIND, DM_UPDATE_KIND = "signal_suggestion", "signal_suggestion_update"


def queue_dm(session: Session, s: SignalSuggestion, now: dt.datetime) -> None:
    """A fresh DM to the CSM (new, or a snooze that ran out), written with the change that
    causes it; rendered when sent, so it shows the suggestion as it is then."""
    if not s.csm_user_id:
        audit.record(session, s.team_id, "system", "signal_suggestion", s.id, "no_recipient")
        return
    from bot.outbox import service as outbox

    key = f"signal_suggestion:{s.id}:dm:{int(now.timestamp())}"
    outbox.enqueue(
        session,
        s.team_id,
        key,
        user=s.csm_user_id,
        kind=DM_KIND,
        entity=("signal_suggestion", s.id or 0),
        now=now,
    )
    s.dm_key = key
    session.add(s)


def refresh_dm(session: Session, s: SignalSuggestion, now: dt.datetime | None = None) -> None:
    """Edit the DM to show the suggestion as it stands (the last ask wins)."""
    if not s.dm_key:
        return
    from bot.outbox import service as outbox

    outbox.enqueue_update(
        session,
        s.team_id,
        s.dm_key,
        kind=DM_UPDATE_KIND,
        entity=("signal_suggestion", s.id or 0),
        now=now,
    )


def _suggestion(session: Session, row: Any) -> SignalSuggestion | None:
    s = session.get(SignalSuggestion, row.entity_id) if row.entity_id else None
    return s if s is not None and s.team_id == row.team_id else None


def render_dm(session: Session, row: Any, ctx: Any) -> tuple[str, list[dict[str, Any]]] | None:
    """Outbox hook: the DM at send time; nothing when it was decided before it went out."""
    from bot.signals.blocks import suggestion_message

    s = _suggestion(session, row)
    if s is None or s.dm_key != row.key or s.status != S.OPEN:
        return None
    return suggestion_message(view(session, s.team_id, s.id or 0))


def render_update(session: Session, row: Any, ctx: Any) -> tuple[str, list[dict[str, Any]]] | None:
    from bot.signals.blocks import suggestion_message

    s = _suggestion(session, row)
    return suggestion_message(view(session, s.team_id, s.id or 0)) if s is not None else None


def dm_landed(session: Session, row: Any, ctx: Any) -> None:
    s = _suggestion(session, row)
    if s is None or s.dm_key != row.key:
        return
    s.dm_channel, s.dm_ts = row.sent_channel, row.sent_ts
    session.add(s)
    audit.record(
        session, s.team_id, "system", "signal_suggestion", s.id, "dm_sent", to=s.csm_user_id
    )


def dm_refused(session: Session, row: Any, ctx: Any) -> None:
    s = _suggestion(session, row)
    if s is not None:
        audit.record(
            session,
            s.team_id,
            "system",
            "signal_suggestion",
            s.id,
            "dm_failed",
            to=s.csm_user_id,
            error=(row.error or "")[:200],
        )


# --- the moves nobody clicks --------------------------------------------------------------


STUCK_START = dt.timedelta(minutes=15)
_sug: sa.Table = SignalSuggestion.__table__  # type: ignore[attr-defined]
_case: sa.Table = Case.__table__  # type: ignore[attr-defined]
# What makes each move due, written once for the probe and for the move itself (bound
# parameters `now`, `stuck_before`); the case is joined on `case_id` where it is asked about.
_CASE_CLOSED = sa.and_(_sug.c.status == S.STARTED, _case.c.status.not_in(OPEN_CASE))
_START_ABANDONED = sa.and_(
    _sug.c.status == S.STARTING,
    _sug.c.case_id.is_(None),
    _sug.c.decided_at < sa.bindparam("stuck_before", type_=_sug.c.decided_at.type),
)
_SNOOZE_OVER = sa.and_(
    _sug.c.status == S.SNOOZED,
    _sug.c.snoozed_until <= sa.bindparam("now", type_=_sug.c.snoozed_until.type),
)
# Is any of the three due? Built once; one probe on ix_signal_suggestion_status, so an idle
# tick costs one statement on an autocommit connection instead of three sessions.
_ANY_MOVE = sa.select(
    sa.or_(
        sa.exists().where(_case.c.id == _sug.c.case_id, _CASE_CLOSED),
        sa.exists().where(_START_ABANDONED),
        sa.exists().where(_SNOOZE_OVER),
    )
)


def moves_due(engine: Engine, now: dt.datetime) -> bool:
    """Has `close_finished`, `release_stuck_starts` or `wake_snoozed` anything to do?"""
    with autocommit(engine) as conn:
        return bool(
            conn.execute(_ANY_MOVE, {"stuck_before": now - STUCK_START, "now": now}).scalar()
        )


def wake_snoozed(engine: Engine, now: dt.datetime, limit: int = 100) -> int:
    """Snoozes that ran out: the suggestion is open again and DMed afresh."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion).where(_SNOOZE_OVER).limit(limit), params={"now": now}
        ).all()
        for s in rows:
            refresh_dm(session, s, now)  # the old DM stops offering buttons
            move(session, SUGGESTION, s, "wake", snoozed_until=None, updated_at=now)
            audit.record(
                session,
                s.team_id,
                "system",
                "signal_suggestion",
                s.id,
                "snooze_ended",
                from_state=S.SNOOZED,
                to_state=S.OPEN,
            )
            queue_dm(session, s, now)
        return len(rows)


def release_stuck_starts(engine: Engine, now: dt.datetime) -> int:
    """A Start plan whose process died while drafting: the suggestion opens again."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion).where(_START_ABANDONED),
            params={"stuck_before": now - STUCK_START},
        ).all()
        for s in rows:
            move(session, SUGGESTION, s, "start_failed", updated_at=now)
            refresh_dm(session, s, now)
            audit.record(
                session,
                s.team_id,
                "system",
                "signal_suggestion",
                s.id,
                "start_abandoned",
                from_state=S.STARTING,
                to_state=S.OPEN,
            )
        return len(rows)


def close_if_case_closed(session: Session, s: SignalSuggestion) -> bool:
    """A started suggestion whose case has closed leaves the active set (with the outcome)."""
    if s.status != S.STARTED or s.case_id is None:
        return False
    case = session.get(Case, s.case_id)
    if case is not None and case.status in OPEN_CASE:
        return False
    outcome = (
        case.outcome
        if case is not None and case.outcome != "open"
        else (case.status if case is not None else "cancelled")
    )
    move(session, SUGGESTION, s, "close", active_key=None, outcome=outcome, updated_at=clock.now())
    refresh_dm(session, s)
    audit.record(
        session,
        s.team_id,
        "system",
        "signal_suggestion",
        s.id,
        "closed",
        from_state=S.STARTED,
        to_state=S.CLOSED,
        outcome=s.outcome,
    )
    return True


def close_finished(engine: Engine, limit: int = 200) -> int:
    """Started suggestions whose case has closed: record the outcome, free the slot."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion)
            .join(Case, col(Case.id) == col(SignalSuggestion.case_id))
            .where(_CASE_CLOSED)
            .limit(limit)
        )
        n = 0
        for s in rows:
            if close_if_case_closed(session, s):
                n += 1
        return n
