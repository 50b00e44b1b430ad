"""Global middleware: drop Events API retries of an event already handled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import BoltResponse
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.models import ProcessedEvent
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def first_delivery(rt: Runtime, team_id: str, event_id: str) -> bool:
    """True the first time an event id is seen; the unique key makes this atomic."""
    try:
        with session_scope(rt.engine) as session:
            session.add(ProcessedEvent(team_id=team_id, event_id=event_id))
        return True
    except IntegrityError:
        return False


def make_dedupe_middleware(rt: Runtime) -> Callable:
    def dedupe_events(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        if body.get("type") == "event_callback" and body.get("event_id"):
            team_id = body.get("team_id") or ""
            if not first_delivery(rt, team_id, body["event_id"]):
                log.info("ignoring repeated delivery of event %s", body["event_id"])
                return BoltResponse(status=200, body="")
        return next()

    return dedupe_events
