"""Signature checks for inbound webhooks, on the raw body, before anything is parsed (pure).

- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`),
  verified by the `standardwebhooks` package (5-minute window, constant-time compare,
  several signatures for secret rotation);
- Zendesk (`X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(timestamp + body))`);
- Zoom (`x-zm-signature: v0=hex(HMAC-SHA256("v0:{ts}:{body}"))`);
- a per-source URL token, for tools that cannot sign (weaker: no body integrity, no replay
  window — flagged as such wherever it is offered).

Times are the real clock's (like Slack's request signing), never the app's movable clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook

TOLERANCE_SECONDS = 300


class Unauthorized(ValueError):
    """Unsigned, badly signed or stale: answered 401 with this (short, secret-free) reason."""


@dataclass(frozen=True)
class Delivery:
    """Who vouched for a request: the delivery id and timestamp the signature covered."""

    webhook_id: str
    timestamp: int
    auth: str = "signed"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def standard_webhooks(secret: str, body: bytes, headers: Mapping[str, str]) -> Delivery:
    h = _lower(headers)
    if not (h.get("webhook-id") and h.get("webhook-timestamp") and h.get("webhook-signature")):
        raise Unauthorized("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        Webhook(secret).verify(body, h, json_parse=False)
    except (UnicodeDecodeError, ValueError, binascii.Error):  # malformed signature headers
        raise Unauthorized("signature does not match") from None
    except Exception as exc:  # noqa: BLE001 — the library's WebhookVerificationError
        text = str(exc).lower()
        if "too old" in text or "too new" in text:
            raise Unauthorized("timestamp outside the 5-minute window") from None
        raise Unauthorized("signature does not match") from None
    return Delivery(h["webhook-id"][:200], int(float(h["webhook-timestamp"])))


def url_token(expected: str | None, given: str | None, delivery_id: str) -> Delivery:
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthorized("missing or wrong token")
    return Delivery(delivery_id, int(time.time()), auth="token")


def _fresh(ts: float, now: float | None = None) -> None:
    if abs((now or time.time()) - ts) > TOLERANCE_SECONDS:
        raise Unauthorized("timestamp outside the 5-minute window")


def zendesk(secret: str, body: bytes, headers: Mapping[str, str]) -> Delivery:
    h = _lower(headers)
    sig, stamp = (
        h.get("x-zendesk-webhook-signature"),
        h.get("x-zendesk-webhook-signature-timestamp"),
    )
    if not sig or not stamp:
        raise Unauthorized("missing X-Zendesk-Webhook-Signature headers")
    expected = base64.b64encode(
        hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(expected, sig.strip()):
        raise Unauthorized("signature does not match")
    try:
        at = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise Unauthorized("unreadable signature timestamp") from None
    ts = int(at.timestamp())
    _fresh(ts)
    return Delivery(h.get("x-zendesk-webhook-invocation-id") or f"zendesk:{stamp}:{sig[:16]}", ts)


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    msg = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def zoom(secret: str, body: bytes, headers: Mapping[str, str]) -> Delivery:
    h = _lower(headers)
    sig, stamp = h.get("x-zm-signature"), h.get("x-zm-request-timestamp")
    if not sig or not stamp or not stamp.strip().isdigit():
        raise Unauthorized("missing x-zm-signature or x-zm-request-timestamp")
    if not hmac.compare_digest(zoom_signature(secret, stamp.strip(), body), sig.strip()):
        raise Unauthorized("signature does not match")
    ts = int(stamp)
    _fresh(ts / 1000 if ts > 10**11 else ts)  # seconds, or milliseconds from older senders
    return Delivery(f"zoom:{stamp}:{sig[3:19]}", ts)


def zoom_url_validation(secret: str, plain_token: str) -> dict[str, str]:
    """Zoom's `endpoint.url_validation` answer: the token and its HMAC-SHA256 in hex."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
