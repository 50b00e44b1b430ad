"""Where a delivery belongs (workspace, source, secret) and keeping each signal once: a
signal is stored once per `(team_id, idempotency_key)` (INSERT … ON CONFLICT DO NOTHING),
group-committed for the HTTP edge."""

from __future__ import annotations

import datetime as dt
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import audit, clock
from bot.config import Settings
from bot.db import is_sqlite, session_scope
from bot.models import Workspace
from bot.signals.models import SignalError, SignalEvent, SignalSource, SignalStatus
from bot.signals.payload import Parsed

EVENTS = SignalEvent.__table__  # type: ignore[attr-defined]


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
def one_writer(engine: Engine) -> Iterator[None]:
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
    with one_writer(engine), engine.begin() as conn:
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
                with one_writer(self.engine), self.engine.begin() as conn:
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
