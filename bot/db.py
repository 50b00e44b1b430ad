"""Database engine and session scope: a SQLite file by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# A pooled PostgreSQL connection idle this long is pinged before use (see `make_engine`).
PING_IDLE_SECONDS = 10.0


def normalise_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out (postgres://) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, ping_idle_seconds: float = PING_IDLE_SECONDS) -> Engine:
    """SQLite with WAL and foreign keys; PostgreSQL with a pool whose idle connections are
    checked before use (`_ping_when_idle`)."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine, ping_idle_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for idle connections only.

    `pool_pre_ping` pings on every checkout: one more round trip per session, on every
    request of a busy ack path, for connections used milliseconds ago. A connection a server
    restart, a failover or an idle timeout has cut was idle when it happened, so only a
    connection back in the pool for `idle_seconds` is pinged; a dead one raises
    `DisconnectionError`, on which the pool drops it and checks out a fresh connection
    (SQLAlchemy's documented checkout recipe). A connection that dies while busy fails that
    one transaction, and the pool is invalidated, as with pre-ping."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()  # the ping's implicit transaction, not the caller's
        except Exception as err:  # noqa: BLE001 — any failure: this connection is gone
            raise exc.DisconnectionError(type(err).__name__) from err


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error — never half-written."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Where a statement runs: a session's transaction, or an autocommit connection (`autocommit`)
Db = OrmSession | Connection


def on_postgres(db: Db) -> bool:
    """Is this session's or connection's database PostgreSQL (row locks, NOTIFY)?"""
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    return dialect.name == "postgresql"


def autocommit(engine: Engine) -> Connection:
    """A connection whose every statement commits (or, a read, ends) by itself, for the ack
    path's one-statement reads and writes: a transaction around one statement is two more
    round trips (BEGIN, then COMMIT or the pool's ROLLBACK) for nothing."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
