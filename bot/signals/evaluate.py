"""Evaluation: new signals matched to an account and run through the rules in force, each
fired rule attached to the account's one suggestion for the risk.

Invariants the database keeps, not just this code:
- at most one active suggestion per account and risk (`unique(team_id, active_key)`); a
  second worker's insert fails and it adds its signal to the winner's suggestion instead;
- evaluation claims new signals inside one transaction (`FOR UPDATE SKIP LOCKED` on
  PostgreSQL, the write lock on SQLite) and commits their new status with every suggestion
  and evidence row, so a crashed worker leaves them `new` for the next one.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot import audit, clock
from bot.db import is_sqlite, session_scope
from bot.models import Account, AuditEvent, Case, Person
from bot.signals import rules as rl
from bot.signals.models import (
    SIGNAL,
    SignalAlias,
    SignalEvent,
    SignalEvidence,
    SignalStatus,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.signals.ruleset import rules_in_force
from bot.signals.store import one_writer
from bot.signals.suggestions import OPEN_CASE, close_if_case_closed, queue_dm, refresh_dm
from bot.states import move_rows

S = SuggestionStatus
EVENTS = SignalEvent.__table__  # type: ignore[attr-defined]
SUGGESTIONS = SignalSuggestion.__table__  # type: ignore[attr-defined]
BATCH = 500


# --- accounts -----------------------------------------------------------------------------


def norm_key(key: str) -> str:
    """`https://www.Acme.com/` → `acme.com`; `dana@acme.com` → `acme.com`; else trimmed."""
    text = key.strip()
    low = text.lower()
    if "@" in low and " " not in low:
        return low.rsplit("@", 1)[1]
    low = re.sub(r"^[a-z]+://", "", low)
    low = low.removeprefix("www.").split("/", 1)[0]
    return low if re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", low) else text


def resolve_account(session: Session, team_id: str, keys: Iterable[str]) -> Account | None:
    """By an alias a CS admin mapped, the CRM id, the domain, then the exact name — never a
    guess: a signal attributed to the wrong account is worse than one waiting to be mapped."""
    for key in keys:
        if not key:
            continue
        if key.startswith("account:") and key[8:].isdigit():  # built-in signals name the row
            account = session.get(Account, int(key[8:]))
            return account if account is not None and account.team_id == team_id else None
        alias = session.execute(
            sa.select(SignalAlias.account_id).where(  # type: ignore[call-overload]
                SignalAlias.team_id == team_id, SignalAlias.account_key == key
            )
        ).first()
        if alias is not None:
            account = session.get(Account, alias[0])
            if account is not None and account.team_id == team_id:
                return account
        domain, name = norm_key(key), key.strip().lower()
        hits = list(
            session.exec(
                select(Account).where(
                    Account.team_id == team_id,
                    sa.or_(
                        col(Account.crm_id) == key,
                        col(Account.domain) == domain,
                        func.lower(Account.name) == name,
                    ),
                )
            )
        )
        for found in (  # CRM id beats domain beats name
            next((a for a in hits if a.crm_id == key), None),
            next((a for a in hits if a.domain == domain), None),
            next((a for a in hits if a.name.lower() == name), None),
        ):
            if found is not None:
                return found
    return None


def _deleted(session: Session, team_id: str, account_id: int) -> bool:
    """The CRM sync recorded the account as deleted or merged away (contracts.md §2)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    return (
        session.execute(
            sa.select(table.c.id)
            .where(
                table.c.team_id == team_id,
                table.c.entity == "account",
                table.c.entity_id == account_id,
                table.c.action.in_(("crm_deleted", "crm_merged")),
            )
            .limit(1)
        ).first()
        is not None
    )


def _keys(sig: SignalEvent) -> list[str]:
    extra = (sig.context or {}).get("account_keys") or []
    return [sig.account_key, *[str(k) for k in extra if k and k != sig.account_key]]


# --- evaluation ---------------------------------------------------------------------------


def _claim_new(session: Session, limit: int) -> list[SignalEvent]:
    stmt = (
        select(SignalEvent)
        .where(SignalEvent.status == SignalStatus.NEW)
        .order_by(col(SignalEvent.id))
        .limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        # take the write lock first, so a second worker waits instead of reading the same rows
        session.execute(
            sa.update(EVENTS).where(EVENTS.c.id == -1).values(evaluated_at=EVENTS.c.evaluated_at)
        )
    else:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.exec(stmt))


def _window(
    session: Session,
    sig: SignalEvent,
    rule: rl.Rule,
    batch: list[rl.Point],
    cache: dict[tuple, tuple] | None = None,
) -> rl.Window:
    """The rule's window before `sig`: history evaluated in earlier batches (one aggregate
    read from a covering index) plus the points of this batch already read (in memory, so
    the batch needs no flush)."""
    c = rule.when
    if c.within is None:
        return rl.Window()
    at = clock.as_utc(sig.occurred_at)
    since = at - c.within
    base = sa.select(
        func.count(EVENTS.c.id), func.max(EVENTS.c.value), func.min(EVENTS.c.value)
    ).where(
        EVENTS.c.team_id == sig.team_id,
        EVENTS.c.account_id == sig.account_id,
        EVENTS.c.signal_type == sig.signal_type,
        EVENTS.c.occurred_at >= since,
        EVENTS.c.occurred_at <= at,
        # evaluated before this batch (its own rows are still `new` in the database until it
        # commits; the ones already read are the in-memory `batch` points)
        EVENTS.c.status == SignalStatus.EVALUATED,
    )
    if c.count is not None:
        if c.below is not None:
            base = base.where(EVENTS.c.value < c.below)
        if c.above is not None:
            base = base.where(EVENTS.c.value > c.above)
        if c.equals is not None:
            base = base.where(func.lower(EVENTS.c.value_text) == c.equals.strip().lower())
    key = (sig.team_id, sig.account_id, sig.signal_type, rule.key, since, at)
    if cache is not None and key in cache:
        count, peak, low = cache[key]  # a burst with one timestamp asks the same question
    else:
        with session.no_autoflush:
            count, peak, low = session.execute(base).one()
        if cache is not None:
            cache[key] = (count, peak, low)
    near = [p for p in batch if since <= p.at <= at]
    values = [v for v in (peak, low, *(p.value for p in near)) if v is not None]
    if c.count is not None:
        near = [p for p in near if rl.value_ok(c, p.value, p.text)]
    return rl.Window(
        int(count or 0) + len(near),
        max(values) if values else None,
        min(values) if values else None,
    )


@dataclass
class _Batch:
    """What one evaluation transaction has looked up already (a burst of one account's
    signals costs its lookups once)."""

    rules: dict[str, list[rl.Rule]] = field(default_factory=dict)
    accounts: dict[tuple[str, ...], Account | None] = field(default_factory=dict)
    deleted: dict[int, bool] = field(default_factory=dict)
    active: dict[tuple[int, str], SignalSuggestion] = field(default_factory=dict)
    points: dict[tuple[int, str], list[rl.Point]] = field(default_factory=dict)
    windows: dict[tuple, tuple] = field(default_factory=dict)
    outcomes: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # id → move
    first_id: int = 0


def _has_new(engine: Engine) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(EVENTS.c.id).where(EVENTS.c.status == SignalStatus.NEW).limit(1)
            ).first()
            is not None
        )


SQLITE_LOCK_BUDGET = 0.015  # seconds: SQLite has one writer; the signals API must not wait


def evaluate_new(
    engine: Engine, now: dt.datetime | None = None, limit: int = BATCH, budget: float | None = None
) -> int:
    """DUE work: evaluate up to `limit` new signals; returns how many were handled. With
    nothing new this is one index probe on `(status, id)`.

    On SQLite the transaction holds the database's only write lock, so it commits after
    `budget` seconds (default 15 ms) and leaves the rest `new` for the next call: inbound
    signals wait at most that long for their INSERT."""
    now = now or clock.now()
    if budget is None and is_sqlite(engine):
        budget = SQLITE_LOCK_BUDGET
    deadline = time.perf_counter() + budget if budget else None
    done = 0
    if is_sqlite(engine) and not _has_new(engine):
        return 0  # the idle tick: one read, no write lock
    with one_writer(engine), session_scope(engine) as session:
        signals = _claim_new(session, min(limit, 25) if budget else limit)
        if not signals:
            return 0
        batch = _Batch(first_id=signals[0].id or 0)
        # in time order: repetition and change are about when things happened, not arrived
        signals.sort(key=lambda x: (clock.as_utc(x.occurred_at), x.id or 0))
        for sig in signals:  # read-only copies: their new state is written in one UPDATE below
            session.expunge(sig)
        with session.no_autoflush:
            for sig in signals:
                _evaluate_one(session, sig, batch, now)
                done += 1
                if deadline is not None and time.perf_counter() > deadline:
                    break
        session.flush()
        counts = session.info.pop("signal_counts", {})
        if counts:
            session.execute(
                sa.update(SUGGESTIONS)
                .where(SUGGESTIONS.c.id == sa.bindparam("sid"))
                .values(signal_count=SUGGESTIONS.c.signal_count + sa.bindparam("n")),
                [{"sid": k, "n": v} for k, v in counts.items()],
                execution_options={"synchronize_session": False},
            )
        groups: dict[tuple[str, int | None], list[int]] = {}
        for sid, how in batch.outcomes.items():
            groups.setdefault(how, []).append(sid)
        for (action, account_id), ids in groups.items():  # a burst is one UPDATE
            move_rows(
                session,
                SIGNAL,
                action,
                EVENTS.c.id.in_(ids),
                values={"account_id": account_id, "evaluated_at": now},
            )
        for sid in session.info.pop("signal_refresh", set()):
            s = session.get(SignalSuggestion, sid)
            if s is not None:
                refresh_dm(session, s, now)
        return done


def _evaluate_one(session: Session, sig: SignalEvent, batch: _Batch, now: dt.datetime) -> None:
    team_id = sig.team_id
    keys = (team_id, *_keys(sig))
    if keys not in batch.accounts:
        batch.accounts[keys] = resolve_account(session, team_id, keys[1:])
    account = batch.accounts[keys]
    if account is None:
        batch.outcomes[sig.id or 0] = ("unmatched", None)
        return
    sig.account_id = account.id  # a detached copy: the window query below reads it
    if account.id not in batch.deleted:
        batch.deleted[account.id or 0] = _deleted(session, team_id, account.id or 0)
    if batch.deleted[account.id or 0]:
        batch.outcomes[sig.id or 0] = ("account_deleted", account.id)
        return
    batch.outcomes[sig.id or 0] = ("evaluate", account.id)
    if team_id not in batch.rules:
        batch.rules[team_id] = rules_in_force(session, team_id)
    point = rl.Point(clock.as_utc(sig.occurred_at), sig.value, sig.previous_value, sig.value_text)
    seen = batch.points.setdefault((account.id or 0, sig.signal_type), [])
    fed: set[int] = set()
    for rule in batch.rules[team_id]:
        if sig.signal_type not in rule.signal:
            continue
        fired = rl.evaluate(rule, point, _window(session, sig, rule, seen, batch.windows))
        if fired is None:
            continue
        cached = batch.active.get((account.id or 0, rule.risk))
        if cached is not None and cached.status in (S.OPEN, S.SNOOZED, S.STARTING):
            if (cached.id or 0) not in fed:
                _evidence(session, cached, sig, fired, suppressed=False)
                fed.add(cached.id or 0)
            continue
        s = attach(session, sig, account, fired, now, fed)
        if s.active_key:
            batch.active[(account.id or 0, rule.risk)] = s
    seen.append(point)


def _active_key(account_id: int, risk: str) -> str:
    return f"{account_id}:{risk}"[:100]


def _active(session: Session, team_id: str, account_id: int, risk: str) -> SignalSuggestion | None:
    return session.exec(
        select(SignalSuggestion).where(
            SignalSuggestion.team_id == team_id,
            SignalSuggestion.active_key == _active_key(account_id, risk),
        )
    ).first()


def _open_case(session: Session, team_id: str, account_id: int, risk: str) -> Case | None:
    return session.exec(
        select(Case)
        .where(
            Case.team_id == team_id,
            Case.account_id == account_id,
            Case.risk_key == risk,
            col(Case.status).in_(OPEN_CASE),
        )
        .order_by(col(Case.id).desc())
    ).first()


def _csm_for(session: Session, account: Account) -> str | None:
    if account.csm_user_id:
        return account.csm_user_id
    admin = session.exec(
        select(Person.slack_user_id)
        .where(
            Person.team_id == account.team_id,
            Person.is_admin == True,  # noqa: E712
        )
        .order_by(col(Person.id))
    ).first()
    return admin


def _evidence(
    session: Session, s: SignalSuggestion, sig: SignalEvent, fired: rl.Fired, *, suppressed: bool
) -> None:
    session.add(
        SignalEvidence(
            team_id=s.team_id,
            suggestion_id=s.id or 0,
            signal_id=sig.id or 0,
            rule_key=fired.rule.key,
            why=fired.why[:300],
            suppressed=suppressed,
        )
    )
    # counted in SQL at the end of the batch (signal_count = signal_count + n): atomic
    session.info.setdefault("signal_counts", {})
    session.info["signal_counts"][s.id] = session.info["signal_counts"].get(s.id, 0) + 1
    at = clock.as_utc(sig.occurred_at)
    s.last_signal_at = max(clock.as_utc(s.last_signal_at), at) if s.last_signal_at else at
    s.first_signal_at = min(clock.as_utc(s.first_signal_at), at) if s.first_signal_at else at
    if s.dm_key and not suppressed:  # the DM shows it: edited once at the end of the batch
        session.info.setdefault("signal_refresh", set()).add(s.id)
    s.updated_at = clock.now()
    session.add(s)


def attach(
    session: Session,
    sig: SignalEvent,
    account: Account,
    fired: rl.Fired,
    now: dt.datetime,
    fed: set[int] | None = None,
) -> SignalSuggestion:
    """Add a fired signal to the account's one suggestion for the risk, or open it.

    Order: the active suggestion (open, snoozed, starting, running as a case); an open case
    reported by hand (the signal is recorded against it, no DM); a dismissal still in its
    cooldown (counted, not shown again); else a new suggestion and a DM to the CSM."""
    fed = fed if fed is not None else set()
    team_id, risk = sig.team_id, fired.rule.risk
    for _ in range(3):
        active = _active(session, team_id, account.id or 0, risk)
        if active is not None and close_if_case_closed(session, active):
            session.flush()
            active = None
        if active is not None:
            if (active.id or 0) not in fed:
                _evidence(session, active, sig, fired, suppressed=False)
                fed.add(active.id or 0)
            return active
        case = _open_case(session, team_id, account.id or 0, risk)
        dismissed = None
        if case is None:
            dismissed = session.exec(
                select(SignalSuggestion)
                .where(
                    SignalSuggestion.team_id == team_id,
                    SignalSuggestion.account_id == account.id,
                    SignalSuggestion.risk_key == risk,
                    SignalSuggestion.status == S.DISMISSED,
                    col(SignalSuggestion.cooldown_until) > now,
                )
                .order_by(col(SignalSuggestion.id).desc())
            ).first()
        if dismissed is not None:
            if (dismissed.id or 0) not in fed:
                _evidence(session, dismissed, sig, fired, suppressed=True)
                fed.add(dismissed.id or 0)
            return dismissed
        s = SignalSuggestion(
            team_id=team_id,
            account_id=account.id or 0,
            risk_key=risk,
            playbook_key=risk,
            rule_key=fired.rule.key,
            active_key=_active_key(account.id or 0, risk),
            status=S.STARTED if case is not None else S.OPEN,
            case_id=case.id if case is not None else None,
            csm_user_id=_csm_for(session, account),
            created_at=now,
            updated_at=now,
        )
        session.flush()  # what is pending stays out of the savepoint below
        try:
            with session.begin_nested():
                session.add(s)
                session.flush()
        except IntegrityError:  # another worker opened it a moment ago: add to theirs
            continue
        audit.record(
            session,
            team_id,
            "system",
            "signal_suggestion",
            s.id,
            "suggested",
            to_state=s.status,
            account_id=account.id,
            risk=risk,
            rule=fired.rule.key,
            case_id=s.case_id,
            csm=s.csm_user_id,
        )
        _evidence(session, s, sig, fired, suppressed=False)
        fed.add(s.id or 0)
        if s.status == S.OPEN:
            queue_dm(session, s, now)
        return s
    raise RuntimeError("could not attach the signal after three tries")
