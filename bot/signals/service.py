"""Signals for unknown accounts (listed, then mapped by a CS admin and evaluated again) and
the funnel `/cs-report` shows: signals → suggestions → cases → outcomes, per rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bot import audit, clock
from bot.models import Account, Case, Workspace
from bot.signals.models import (
    SIGNAL,
    SignalAlias,
    SignalError,
    SignalEvent,
    SignalRule,
    SignalStatus,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.signals.ruleset import rule_problems
from bot.states import move_rows

S = SuggestionStatus
EVENTS = SignalEvent.__table__  # type: ignore[attr-defined]


# --- unknown accounts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Unmatched:
    account_key: str
    signals: int
    sources: tuple[str, ...]
    last_at: dt.datetime


def unmatched(session: Session, team_id: str, limit: int = 20) -> list[Unmatched]:
    rows = session.execute(
        sa.select(
            EVENTS.c.account_key,
            func.count(EVENTS.c.id),
            func.max(EVENTS.c.received_at),
            func.min(EVENTS.c.source),
            func.max(EVENTS.c.source),
        )
        .where(EVENTS.c.team_id == team_id, EVENTS.c.status == SignalStatus.UNMATCHED)
        .group_by(EVENTS.c.account_key)
        .order_by(func.count(EVENTS.c.id).desc())
        .limit(limit)
    )
    return [
        Unmatched(k, int(n), tuple(sorted({a, b})), clock.as_utc(at)) for k, n, at, a, b in rows
    ]


def map_key(
    session: Session, team_id: str, key: str, account_text: str, actor: str
) -> tuple[Account, int]:
    """Remember that `key` is this account and re-evaluate the signals that waited for it."""
    from bot.accounts.service import find_account

    account = find_account(session, team_id, account_text)
    if account is None:
        raise SignalError(f"No account '{account_text}'; use its name, domain or CRM id.")
    alias = session.exec(
        select(SignalAlias).where(SignalAlias.team_id == team_id, SignalAlias.account_key == key)
    ).first()
    alias = alias or SignalAlias(team_id=team_id, account_key=key, account_id=account.id or 0)
    alias.account_id, alias.created_by = account.id or 0, actor
    session.add(alias)
    n = move_rows(
        session, SIGNAL, "remap", EVENTS.c.team_id == team_id, EVENTS.c.account_key == key
    )
    session.flush()
    audit.record(
        session,
        team_id,
        actor,
        "signal_alias",
        alias.id,
        "mapped",
        key=key,
        account_id=account.id,
        signals=n,
    )
    return account, int(n or 0)


def teams(session: Session) -> list[str]:
    return list(session.exec(select(Workspace.team_id)))


# --- what /cs-report shows ----------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRow:
    """One rule over a period: suggestions it opened and what became of them."""

    rule: str
    suggestions: int
    dismissed: int
    waiting: int  # open or snoozed
    cases: int
    saved: int
    churned: int
    signals: int  # signals that fed its suggestions (repeats included)


@dataclass(frozen=True)
class Funnel:
    signals: int
    by_type: dict[str, int]
    unmatched: int
    rows: tuple[FunnelRow, ...]
    unmatched_keys: tuple[Unmatched, ...] = ()
    rule_problems: tuple[str, ...] = ()

    @property
    def suggestions(self) -> int:
        return sum(r.suggestions for r in self.rows)

    @property
    def cases(self) -> int:
        return sum(r.cases for r in self.rows)


def funnel(session: Session, team_id: str, start: dt.datetime, end: dt.datetime) -> Funnel:
    """Signals received → suggestions opened → cases → outcomes, per rule, for a period."""
    by_type = dict(
        session.execute(
            sa.select(EVENTS.c.signal_type, func.count(EVENTS.c.id))
            .where(
                EVENTS.c.team_id == team_id,
                EVENTS.c.received_at >= start,
                EVENTS.c.received_at < end,
            )
            .group_by(EVENTS.c.signal_type)
        ).all()
    )
    unmatched_n = (
        session.execute(
            sa.select(func.count(EVENTS.c.id)).where(
                EVENTS.c.team_id == team_id,
                EVENTS.c.received_at >= start,
                EVENTS.c.received_at < end,
                EVENTS.c.status == SignalStatus.UNMATCHED,
            )
        ).scalar()
        or 0
    )
    names = {
        r.key: str(r.definition.get("name", r.key))
        for r in session.exec(select(SignalRule).where(SignalRule.team_id == team_id))
    }
    rows: dict[str, dict[str, int]] = {}
    for s in session.exec(
        select(SignalSuggestion).where(
            SignalSuggestion.team_id == team_id,
            col(SignalSuggestion.created_at) >= start,
            col(SignalSuggestion.created_at) < end,
        )
    ):
        r = rows.setdefault(
            s.rule_key,
            dict(suggestions=0, dismissed=0, waiting=0, cases=0, saved=0, churned=0, signals=0),
        )
        r["suggestions"] += 1
        r["signals"] += s.signal_count
        if s.status == S.DISMISSED:
            r["dismissed"] += 1
        elif s.status in (S.OPEN, S.SNOOZED, S.STARTING):
            r["waiting"] += 1
        if s.case_id is not None:
            r["cases"] += 1
            case = session.get(Case, s.case_id)
            outcome = case.outcome if case is not None else None
            if outcome == "saved":
                r["saved"] += 1
            elif outcome == "churned":
                r["churned"] += 1
    out = tuple(
        FunnelRow(names.get(k, k), **v)
        for k, v in sorted(rows.items(), key=lambda kv: -kv[1]["suggestions"])
    )
    return Funnel(
        int(sum(by_type.values())),
        {str(k): int(v) for k, v in by_type.items()},
        int(unmatched_n),
        out,
        tuple(unmatched(session, team_id, 10)),
        tuple(rule_problems(session, team_id)),
    )
