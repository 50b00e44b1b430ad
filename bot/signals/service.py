"""Signals: storing them, matching accounts, the rules in force, evaluation into suggested
cases, and the CSM's decisions (Start plan / Not now / Dismiss). The only place in this
domain that opens transactions.

Invariants the database keeps, not just this code:
- a signal is stored once per `(team_id, idempotency_key)` (INSERT … ON CONFLICT DO NOTHING);
- at most one active suggestion per account and risk (`unique(team_id, active_key)`); a
  second worker's insert fails and it adds its signal to the winner's suggestion instead;
- evaluation claims new signals inside one transaction (`FOR UPDATE SKIP LOCKED` on
  PostgreSQL, the write lock on SQLite) and commits their new status with every suggestion
  and evidence row, so a crashed worker leaves them `new` for the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot import audit, clock
from bot.config import Settings, duration_hours
from bot.db import is_sqlite, session_scope
from bot.models import Account, AuditEvent, Case, CaseStatus, Person, Workspace
from bot.people.service import is_cs_admin
from bot.signals import rules as rl
from bot.signals.models import (
    SIGNAL,
    SUGGESTION,
    SignalAlias,
    SignalEvent,
    SignalEvidence,
    SignalRule,
    SignalRuleset,
    SignalSource,
    SignalStatus,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.signals.payload import Parsed
from bot.signals.views import EvidenceLine, SuggestionView
from bot.states import StateError, move, move_rows

log = logging.getLogger(__name__)
S, N = SuggestionStatus, SignalStatus
EVENTS = SignalEvent.__table__  # type: ignore[attr-defined]
SUGGESTIONS = SignalSuggestion.__table__  # type: ignore[attr-defined]
BATCH = 500
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


class SignalError(ValueError):
    """A refused signal action; the message is shown to the person who tried it."""


# --- where a delivery belongs -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Who an inbound request is for, and how it must be signed."""

    team_id: str
    source: str
    adapter: str = "generic"
    secret: str | None = None
    url_token: str | None = None


_TARGETS: dict[tuple[str, str | None], tuple[float, Target | None]] = {}
_TARGET_TTL = 30.0


def only_team(session: Session) -> str | None:
    teams = list(session.exec(select(Workspace.team_id).limit(2)))
    return teams[0] if len(teams) == 1 else None


def target_for(engine: Engine, settings: Settings, source: str | None) -> Target | None:
    """`POST /signals` → the single workspace with SIGNALS_WEBHOOK_SECRET; `POST
    /signals/<source>` → that source's row (its own secret, adapter, token). Cached briefly:
    the endpoint must answer fast, and a new source is seen within 30 s."""
    cache_key = (str(engine.url), source)
    hit = _TARGETS.get(cache_key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    with session_scope(engine) as session:
        found: Target | None = None
        if source is None:
            team = only_team(session)
            if team and settings.signals_webhook_secret:
                found = Target(team, "api", secret=settings.signals_webhook_secret)
        else:
            row = session.exec(select(SignalSource).where(SignalSource.key == source)).first()
            if row is not None:
                found = Target(row.team_id, row.key, row.adapter, row.secret, row.url_token)
    _TARGETS[cache_key] = (time.monotonic() + _TARGET_TTL, found)
    return found


def forget_targets() -> None:
    _TARGETS.clear()


def add_source(
    session: Session,
    team_id: str,
    key: str,
    adapter: str,
    *,
    secret: str | None,
    url_token: str | None,
    actor: str,
) -> SignalSource:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", key):
        raise SignalError("A source name is lowercase letters, digits, - and _ (e.g. vitally).")
    row = session.exec(select(SignalSource).where(SignalSource.key == key)).first()
    if row is not None and row.team_id != team_id:
        raise SignalError(f"The source name '{key}' is taken; choose another.")
    row = row or SignalSource(team_id=team_id, key=key)
    row.adapter, row.secret, row.url_token, row.created_by = adapter, secret, url_token, actor
    session.add(row)
    session.flush()
    audit.record(
        session,
        team_id,
        actor,
        "signal_source",
        row.id,
        "configured",
        adapter=adapter,
        token=bool(url_token) or None,
    )
    forget_targets()
    return row


# --- storing ------------------------------------------------------------------------------


@dataclass
class Stored:
    accepted: int = 0
    duplicates: int = 0
    replayed: bool = False
    ids: list[int] = field(default_factory=list)


_INSERTS: dict[str, Any] = {}
_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


@contextmanager
def _one_writer(engine: Engine) -> Iterator[None]:
    """On SQLite, writers in this process queue on a lock instead of in SQLite's busy
    handler (which polls with sleeps of up to 100 ms): the signals API and the evaluator
    take turns without stalls. PostgreSQL needs no such thing."""
    if not is_sqlite(engine):
        yield
        return
    with _GUARD:
        lock = _SQLITE_WRITERS.setdefault(str(engine.url), threading.Lock())
    with lock:
        yield


def _insert_stmt(engine: Engine) -> Any:
    """One compiled-once INSERT … ON CONFLICT DO NOTHING RETURNING id per dialect (the
    values travel as parameters, so SQLAlchemy's statement cache is hit every time)."""
    name = engine.dialect.name
    if name not in _INSERTS:
        insert = (sqlite.insert if is_sqlite(engine) else postgresql.insert)(EVENTS)
        _INSERTS[name] = insert.on_conflict_do_nothing(
            index_elements=["team_id", "idempotency_key"]
        ).returning(EVENTS.c.id)
    return _INSERTS[name]


def store(
    engine: Engine,
    team_id: str,
    signals: Sequence[Parsed],
    *,
    auth: str,
    webhook_id: str | None = None,
    webhook_ts: int | None = None,
    now: dt.datetime | None = None,
    grouped: bool = False,
) -> Stored:
    """Keep each signal once (by idempotency key). A delivery whose id *and* signed timestamp
    were stored before is a replay (a sender's retry is signed anew); the caller answers 401.
    `grouped` (the HTTP edge) shares one commit with concurrent requests."""
    now = now or clock.now()
    out = Stored()
    if not signals:
        return out
    rows = [
        {
            "team_id": team_id,
            "source": p.source,
            "idempotency_key": p.idempotency_key,
            "webhook_id": webhook_id,
            "webhook_ts": webhook_ts,
            "auth": auth,
            "account_key": p.account_key,
            "signal_type": p.signal_type,
            "value": p.value,
            "previous_value": p.previous_value,
            "value_text": p.value_text,
            "unit": p.unit,
            "occurred_at": p.occurred_at,
            "received_at": now,
            "context": p.context
            | ({"account_keys": list(p.account_keys)} if len(p.account_keys) > 1 else {}),
            "status": SignalStatus.NEW,
        }
        for p in signals
    ]
    if grouped:
        return _group_writer(engine).write(team_id, rows, webhook_id, webhook_ts)
    with _one_writer(engine), engine.begin() as conn:
        return _write(conn, _insert_stmt(engine), team_id, rows, webhook_id, webhook_ts)


def _write(
    conn: Any,
    stmt: Any,
    team_id: str,
    rows: list[dict[str, Any]],
    webhook_id: str | None,
    webhook_ts: int | None,
) -> Stored:
    out = Stored()
    for row in rows:
        out.ids += [r[0] for r in conn.execute(stmt, row)]
    out.accepted = len(out.ids)
    out.duplicates = len(rows) - out.accepted
    if out.duplicates and webhook_id and webhook_ts is not None and not out.accepted:
        seen = conn.execute(
            sa.select(EVENTS.c.id)
            .where(
                EVENTS.c.team_id == team_id,
                EVENTS.c.webhook_id == webhook_id,
                EVENTS.c.webhook_ts == webhook_ts,
            )
            .limit(1)
        ).first()
        out.replayed = seen is not None
    return out


class _GroupWriter:
    """Group commit for the signals API: concurrent requests' rows go into one transaction
    (one fsync for many acks); each request still answers only after its rows are durable.
    A failed transaction fails every request in it (they answer 503 and the senders retry)."""

    MAX_GROUP = 200

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        threading.Thread(target=self._run, daemon=True, name="ft-signal-writer").start()

    def write(
        self,
        team_id: str,
        rows: list[dict[str, Any]],
        webhook_id: str | None,
        webhook_ts: int | None,
    ) -> Stored:
        item = _Pending(team_id, rows, webhook_id, webhook_ts)
        self.queue.put(item)
        if not item.done.wait(30):
            raise TimeoutError("signal writer did not answer")
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def _run(self) -> None:
        stmt = _insert_stmt(self.engine)
        while True:
            group = [self.queue.get()]
            while len(group) < self.MAX_GROUP:
                try:
                    group.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with _one_writer(self.engine), self.engine.begin() as conn:
                    for item in group:
                        item.result = _write(
                            conn, stmt, item.team_id, item.rows, item.webhook_id, item.webhook_ts
                        )
            except Exception as exc:  # noqa: BLE001 — handed to each waiting request
                for item in group:
                    item.result, item.error = None, exc
            for item in group:
                item.done.set()


@dataclass
class _Pending:
    team_id: str
    rows: list[dict[str, Any]]
    webhook_id: str | None
    webhook_ts: int | None
    done: threading.Event = field(default_factory=threading.Event)
    result: Stored | None = None
    error: Exception | None = None


_WRITERS: dict[str, _GroupWriter] = {}


def _group_writer(engine: Engine) -> _GroupWriter:
    with _GUARD:
        key = str(engine.url)
        if key not in _WRITERS:
            _WRITERS[key] = _GroupWriter(engine)
        return _WRITERS[key]


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


# --- rules in force ----------------------------------------------------------------------


def rules_folder(settings: Settings) -> Path:
    return Path(settings.signal_rules_dir) if settings.signal_rules_dir else rl.SEED_DIR


def _known_risks(session: Session, team_id: str) -> set[str]:
    from bot.playbooks.service import active_playbooks, ensure_seeded

    ensure_seeded(session, team_id)
    return {p.key for p in active_playbooks(session, team_id)}


@dataclass
class RulesLoad:
    changed: list[str] = field(default_factory=list)
    problems: list[rl.Problem] = field(default_factory=list)
    skipped: bool = False


def load_rules(
    session: Session, team_id: str, folder: Path, *, force: bool = False, actor: str = "system"
) -> RulesLoad:
    """Bring the team's rules in line with the folder. A file with an error changes nothing
    (the rule it held stays in force); its problems are kept for CS admins and logged at
    WARNING with file:line. A rule whose file was removed is retired."""
    out = RulesLoad()
    print_ = rl.fingerprint(folder)
    state = session.exec(select(SignalRuleset).where(SignalRuleset.team_id == team_id)).first()
    if state is not None and state.fingerprint == print_ and not force:
        out.skipped = True
        return out
    files, problems = rl.read_dir(folder, _known_risks(session, team_id))
    out.problems = problems
    for p in problems:
        if p.is_error:
            log.warning("signal rules: %s/%s (the rule in force is kept)", folder, p)
    current = {
        r.key: r for r in session.exec(select(SignalRule).where(SignalRule.team_id == team_id))
    }
    broken = {p.source.rsplit(".", 1)[0] for p in problems if p.is_error}
    seen = set()
    for f in files:
        seen.add(f.rule.key)
        row = current.get(f.rule.key)
        if row is not None and row.sha256 == f.sha256 and not row.retired:
            continue
        row = row or SignalRule(team_id=team_id, key=f.rule.key, version=0)
        row.version, row.definition, row.source = row.version + 1, f.rule.to_json(), f.source
        row.sha256, row.retired, row.loaded_at = f.sha256, False, clock.now()
        session.add(row)
        session.flush()
        audit.record(
            session,
            team_id,
            actor,
            "signal_rule",
            row.id,
            "loaded",
            version=row.version,
            source=f.source,
        )
        out.changed.append(f.rule.key)
    for key, row in current.items():
        if key not in seen and key not in broken and not row.retired:
            row.retired = True
            session.add(row)
            audit.record(session, team_id, actor, "signal_rule", row.id, "retired")
            out.changed.append(key)
    state = state or SignalRuleset(team_id=team_id)
    state.fingerprint, state.checked_at = print_, clock.now()
    state.problems = [
        {
            "source": p.source,
            "line": p.line,
            "column": p.column,
            "message": p.message,
            "severity": p.severity,
        }
        for p in problems
    ]
    session.add(state)
    return out


_PARSED: dict[tuple[str, str], tuple[tuple[Any, ...], list[rl.Rule]]] = {}


def rules_in_force(session: Session, team_id: str) -> list[rl.Rule]:
    """The team's rules; parsed once per change (the key, version and retirement of every
    row is the cheap stamp a batch checks)."""
    rules = SignalRule.__table__  # type: ignore[attr-defined]
    stamp = tuple(
        session.execute(
            sa.select(rules.c.id, rules.c.version, rules.c.retired)
            .where(rules.c.team_id == team_id)
            .order_by(rules.c.id)
        ).all()
    )
    cache_key = (str(session.get_bind().engine.url), team_id)
    hit = _PARSED.get(cache_key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    out = []
    for row in session.exec(
        select(SignalRule).where(SignalRule.team_id == team_id, SignalRule.retired == False)  # noqa: E712
    ):
        try:
            out.append(rl.rule_from_json(row.definition))
        except ValueError:
            log.warning("stored signal rule %s no longer validates; skipped", row.key)
    _PARSED[cache_key] = (stamp, out)
    return out


def rule_problems(session: Session, team_id: str) -> list[str]:
    state = session.exec(select(SignalRuleset).where(SignalRuleset.team_id == team_id)).first()
    if state is None:
        return []
    return [
        f"{p['source']}:{p['line']}:{p['column']}: {p['message']}"
        for p in state.problems
        if p.get("severity") == "error"
    ]


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
    with _one_writer(engine), session_scope(engine) as session:
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


def _close_if_case_closed(session: Session, s: SignalSuggestion) -> bool:
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
        if active is not None and _close_if_case_closed(session, active):
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
            _queue_dm(session, s, now)
        return s
    raise RuntimeError("could not attach the signal after three tries")


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


def _queue_dm(session: Session, s: SignalSuggestion, now: dt.datetime) -> None:
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


def wake_snoozed(engine: Engine, now: dt.datetime, limit: int = 100) -> int:
    """Snoozes that ran out: the suggestion is open again and DMed afresh."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion)
            .where(
                SignalSuggestion.status == S.SNOOZED,
                col(SignalSuggestion.snoozed_until) <= now,
            )
            .limit(limit)
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
            _queue_dm(session, s, now)
        return len(rows)


STUCK_START = dt.timedelta(minutes=15)


def release_stuck_starts(engine: Engine, now: dt.datetime) -> int:
    """A Start plan whose process died while drafting: the suggestion opens again."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion).where(
                SignalSuggestion.status == S.STARTING,
                col(SignalSuggestion.case_id).is_(None),
                col(SignalSuggestion.decided_at) < now - STUCK_START,
            )
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


def close_finished(engine: Engine, limit: int = 200) -> int:
    """Started suggestions whose case has closed: record the outcome, free the slot."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(SignalSuggestion)
            .join(Case, col(Case.id) == col(SignalSuggestion.case_id))
            .where(SignalSuggestion.status == S.STARTED, col(Case.status).not_in(OPEN_CASE))
            .limit(limit)
        )
        n = 0
        for s in rows:
            if _close_if_case_closed(session, s):
                n += 1
        return n


# --- decisions ----------------------------------------------------------------------------


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
