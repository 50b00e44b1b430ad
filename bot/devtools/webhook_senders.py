"""Stand-ins for the tools that send us webhooks, written from the senders' documentation
(not from our receiver): Standard Webhooks (standardwebhooks.com spec: `webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(id.ts.body)>`, `whsec_`
base64 secrets), Zendesk event webhooks (`X-Zendesk-Webhook-Signature` =
base64(HMAC-SHA256(timestamp + body)), ISO timestamp header), and CS-platform webhook steps
(Vitally / ChurnZero / Gainsight send the JSON body the admin wrote: here our format).

Each sender posts real HTTP to the app and returns the status and JSON answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _answer(resp: httpx.Response) -> Answer:
    try:
        data = resp.json()
    except ValueError:
        data = {"raw": resp.text[:200]}
    return Answer(resp.status_code, data if isinstance(data, dict) else {"raw": data})


class StandardWebhooksSender:
    """Signs and posts like a Standard Webhooks sender (e.g. Svix). A retry keeps the message
    id and is signed anew, as the spec's senders do."""

    def __init__(self, url: str, secret: str, client: httpx.Client | None = None) -> None:
        self.url, self.secret = url, secret
        self.client = client or httpx.Client(timeout=10)

    def headers(
        self, body: bytes, msg_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": standard_signature(self.secret, msg_id, ts, body),
        }

    def post(
        self,
        payload: Any,
        *,
        msg_id: str | None = None,
        timestamp: int | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        body = raw if raw is not None else json.dumps(payload).encode()
        sent = headers if headers is not None else self.headers(body, msg_id, timestamp)
        return _answer(self.client.post(self.url, content=body, headers=sent))

    def close(self) -> None:
        self.client.close()


def signal(
    account: str,
    kind: str,
    value: Any = None,
    previous: Any = None,
    *,
    source: str = "vitally",
    key: str | None = None,
    at: dt.datetime | None = None,
    reason: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A `followthrough.signal/v1` body, as an admin writes it into a CS platform's webhook step."""
    body: dict[str, Any] = {
        "schema": "followthrough.signal/v1",
        "source": source,
        "account": {"key": account},
        "signal": {"type": kind, "value": value, "previous_value": previous},
    }
    if at is not None:  # else: when it was received
        body["occurred_at"] = at.isoformat()
    if key:
        body["idempotency_key"] = key
    if event_id:
        body["source_event_id"] = event_id
    if reason:
        body["context"] = {"reason": reason}
    return body


class ZendeskSender:
    """Zendesk event webhooks, signed as Zendesk documents it."""

    def __init__(self, url: str, secret: str, client: httpx.Client | None = None) -> None:
        self.url, self.secret = url, secret
        self.client = client or httpx.Client(timeout=10)

    def post(self, event: dict[str, Any], *, timestamp: str | None = None) -> Answer:
        body = json.dumps(event).encode()
        stamp = timestamp or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = base64.b64encode(
            hmac.new(self.secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
        ).decode()
        headers = {
            "content-type": "application/json",
            "user-agent": "Zendesk Webhook",
            "x-zendesk-webhook-id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
            "x-zendesk-webhook-invocation-id": str(uuid.uuid4().int)[:19],
            "x-zendesk-webhook-signature": sig,
            "x-zendesk-webhook-signature-timestamp": stamp,
        }
        return _answer(self.client.post(self.url, content=body, headers=headers))

    def close(self) -> None:
        self.client.close()


def zendesk_ticket_event(
    ticket: int,
    organization: str,
    kind: str = "ticket.created",
    *,
    priority: str = "HIGH",
    subject: str = "Sync keeps failing",
    current: Any = None,
    previous: Any = None,
) -> dict[str, Any]:
    """A Zendesk ticket event body (shape from Zendesk's webhook event-types reference)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": f"zen:event-type:{kind}",
        "account_id": 88888888,
        "id": str(uuid.uuid4()),
        "time": now,
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": str(ticket),
            "organization_id": organization,
            "priority": priority,
            "status": "OPEN",
            "subject": subject,
            "requester_id": "9000001",
            "created_at": now,
            "updated_at": now,
            "via": {"channel": "web"},
        },
        "event": {"current": current, "previous": previous} if current is not None else {},
    }
