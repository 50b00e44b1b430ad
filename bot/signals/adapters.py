"""Adapters: a vendor's documented outbound webhook → `followthrough.signal/v1` signals (pure).

Most CS platforms (Vitally, ChurnZero, Gainsight, Planhat) send a body the admin writes in
the tool's webhook step, so they send our generic format and need no adapter. Support desks
have fixed event schemas; Zendesk's event webhooks are documented
(developer.zendesk.com/api-reference/webhooks/event-types/ticket-events):

    {"type": "zen:event-type:ticket.created", "account_id": 88888888, "id": "01HN…",
     "time": "2024-04-17T17:18:10Z", "subject": "zen:ticket:35436",
     "detail": {"id": "35436", "organization_id": "1500…", "priority": "HIGH", "status": "OPEN",
                "subject": "…", …},
     "event": {"current": …, "previous": …}}

A Zendesk organisation is not one of our accounts by itself: its key is `zendesk:org:<id>`,
which a CS admin maps once (`followthrough signal map`, or the unmatched list).
A Zendesk trigger or automation whose JSON body is written in our format is read as such.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.signals.payload import Parsed, PayloadError, parse_body

ZENDESK_TYPES = {
    "zen:event-type:ticket.created": "support_ticket_opened",
    "zen:event-type:ticket.priority_changed": "support_ticket_priority",
    "zen:event-type:ticket.status_changed": "support_ticket_status",
}
ADAPTERS = ("generic", "zendesk")


def _when(text: Any, now: dt.datetime) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return now
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("status") or value.get("priority") or next(iter(value.values()), None)
    return None if value is None else str(value).lower()[:200]


def zendesk(data: Any, *, source: str, delivery_id: str, now: dt.datetime) -> list[Parsed]:
    """Zendesk ticket events; other event types are acknowledged and ignored."""
    if isinstance(data, dict) and ("signal" in data or "signals" in data):
        return parse_body(data, source=source, delivery_id=delivery_id, now=now)
    if not isinstance(data, dict) or not str(data.get("type", "")).startswith("zen:event-type:"):
        raise PayloadError("not a Zendesk event (no 'type': 'zen:event-type:…')")
    kind = ZENDESK_TYPES.get(str(data["type"]))
    if kind is None:
        return []
    detail: dict[str, Any] = data["detail"] if isinstance(data.get("detail"), dict) else {}
    event: dict[str, Any] = data["event"] if isinstance(data.get("event"), dict) else {}
    org = str(detail.get("organization_id") or "").strip()
    if not org or org == "0":
        raise PayloadError("the ticket has no organization_id, so it names no account")
    ticket = str(detail.get("id") or "")
    current = _text(event.get("current"))
    previous = _text(event.get("previous"))
    if kind == "support_ticket_opened":
        current = _text(detail.get("priority"))
    key = f"zendesk:org:{org}"
    return [
        Parsed(
            idempotency_key=f"zendesk:{data.get('id') or delivery_id}"[:200],
            source=source,
            account_key=key,
            account_keys=(key,),
            signal_type=kind,
            value=1.0,
            previous_value=None,
            value_text=current,
            unit=None,
            occurred_at=_when(data.get("time"), now),
            context={
                "ticket": ticket,
                "subject": str(detail.get("subject") or "")[:200],
                "previous": previous,
                "zendesk_account": data.get("account_id"),
            },
        )
    ]


def parse(
    adapter: str, data: Any, *, source: str, delivery_id: str, now: dt.datetime
) -> list[Parsed]:
    if adapter == "zendesk":
        return zendesk(data, source=source, delivery_id=delivery_id, now=now)
    return parse_body(data, source=source, delivery_id=delivery_id, now=now)
