"""The one way to ask "what time is it".

Scheduled work takes `now` as a parameter; everything else calls `now()` here, so tests and
`followthrough tick --now` can move time without touching the system clock (Slack request
signing keeps using the real clock, as Bolt's verifier does).
"""

from __future__ import annotations

import datetime as dt
import threading

_override: dt.datetime | None = None
_lock = threading.Lock()


def now() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    with _lock:
        if _override is not None:
            return _override
    return dt.datetime.now(dt.UTC)


def set_now(value: dt.datetime | None) -> None:
    """Pin the clock (None releases it). Naive datetimes are taken as UTC."""
    global _override
    with _lock:
        _override = as_utc(value) if value is not None else None


def pinned() -> dt.datetime | None:
    """The pinned time, or None when the clock follows the system's."""
    with _lock:
        return _override


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes (as SQLite returns them) are UTC by convention in this app."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
