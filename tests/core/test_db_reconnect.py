"""A PostgreSQL connection the server cut while it sat in the pool (a restart, a failover, an
idle timeout) is found out before use and replaced; the session that asked never sees it.
Busy connections are not pinged (`bot.db._ping_when_idle`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.db import make_engine, session_scope


@pytest.fixture
def pg_url(database_url: str) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's cut connections")
    yield database_url


def _cut_all(url: str) -> None:
    """What a server restart does to every connection of the pool."""
    other = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with other.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.commit()
    other.dispose()


def _backend(engine: sa.Engine) -> int:
    with session_scope(engine) as s:
        return int(s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_cut_idle_connection_is_replaced_before_use(pg_url: str) -> None:
    engine = make_engine(pg_url, ping_idle_seconds=0.0)  # every pooled connection is "idle"
    try:
        first = _backend(engine)
        _cut_all(pg_url)
        assert _backend(engine) != first  # a new connection, no error
    finally:
        engine.dispose()


def test_a_recently_used_connection_is_not_pinged(pg_url: str) -> None:
    """The price of not pinging busy connections: one cut while in the pool for less than
    `ping_idle_seconds` fails the one transaction that gets it, and the pool recovers."""
    engine = make_engine(pg_url, ping_idle_seconds=3600.0)
    try:
        _backend(engine)
        _cut_all(pg_url)
        with pytest.raises(sa.exc.OperationalError):  # not pinged: the cut shows
            _backend(engine)
        assert _backend(engine)  # the pool was invalidated: a fresh connection
    finally:
        engine.dispose()
