"""What a kind of outbound message does around its delivery, declared by the domain that
sends it (`OUTBOX_HOOKS` in its `scheduled.py`, next to `DUE_JOBS`)."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from bot.config import Settings
from bot.models import OutboundMessage

Rendered = tuple[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class SendContext:
    """What a hook knows besides the row: the app's settings and the sender's `now` (the
    tick's clock, which tests and `tick --now` move), for anything it queues in turn."""

    settings: Settings
    now: dt.datetime


@dataclass(frozen=True)
class OutboxHooks:
    """All optional; each runs inside the sender's transaction.

    render: the message's text and blocks at send time (None: nothing to say any more — the
            row is cancelled). Used where the content must reflect the latest state, e.g. a
            case card.
    on_sent: the message landed (`row.sent_channel`, `row.sent_ts`): record it on your row.
    on_failed: Slack refused it for good (`row.error`): undo or tell someone (enqueue).
    """

    render: Callable[[Session, OutboundMessage, SendContext], Rendered | None] | None = None
    on_sent: Callable[[Session, OutboundMessage, SendContext], None] | None = None
    on_failed: Callable[[Session, OutboundMessage, SendContext], None] | None = None


NO_HOOKS = OutboxHooks()


@lru_cache(maxsize=1)
def registry() -> dict[str, OutboxHooks]:
    from bot.scheduler import JOB_MODULES

    found: dict[str, OutboxHooks] = {}
    for name in JOB_MODULES:
        found.update(getattr(importlib.import_module(name), "OUTBOX_HOOKS", {}))
    return found


def hooks_for(kind: str) -> OutboxHooks:
    return registry().get(kind, NO_HOOKS)
