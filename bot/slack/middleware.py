"""Global middleware: read the request once (the typed Interaction, and the Runtime for the
listeners), and drop Events API retries of an event already handled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.models import ProcessedEvent
from bot.runtime import Runtime
from bot.slack.listeners.base import INTERACTION_KEY, RT_KEY
from bot.slack.payload import BadPayload, Interaction
from bot.slack.pooled import pooled

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


class ReadInteraction(Middleware):
    """Parse the request once, right after its signature is checked and before anything else
    reads it (Bolt's own middleware and matchers index into the body and would raise on a
    shape Slack never sends: a 500). A body not shaped like Slack's is answered 400; otherwise
    listeners get the typed Interaction and the Runtime through the context, so listener
    modules need no closure over it.

    A `Middleware` subclass, not a function: Bolt builds a function middleware's arguments
    from the body, which is exactly what may not be trusted yet."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        try:
            req.context[INTERACTION_KEY] = Interaction.parse(req.body)
        except BadPayload as exc:
            kind = req.body.get("type") if isinstance(req.body, dict) else None
            log.warning("refused a %s request: %s", kind if isinstance(kind, str) else "?", exc)
            return BoltResponse(status=400, body=str(exc))
        req.context[RT_KEY] = self.rt
        # Bolt made a plain WebClient for this request: the same one on kept-alive connections
        req.context["client"] = pooled(req.context.client)
        return next()
