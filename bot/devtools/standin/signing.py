"""Slack request signing (v0), shared by the driver and its tests.

Kept separate and pure so the documented Slack test vector can pin it down.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SLACKBOT_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Return `v0=<hex>` for the exact bytes that will be sent."""
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return "v0=" + digest


def slack_headers(
    signing_secret: str,
    body: bytes,
    content_type: str,
    *,
    timestamp_offset: int = 0,
    signature: str | None = None,
    sign_request: bool = True,
) -> dict[str, str]:
    """Headers Slack puts on an inbound request, signed with the real wall clock.

    `timestamp_offset` (seconds, e.g. -360) makes stale requests; `signature` forces a value;
    `sign_request=False` leaves both signing headers out.
    """
    headers = {
        "Content-Type": content_type,
        "Accept": "application/json,*/*",
        "User-Agent": SLACKBOT_USER_AGENT,
    }
    if not sign_request:
        return headers
    ts = str(int(time.time()) + timestamp_offset)
    headers["X-Slack-Request-Timestamp"] = ts
    headers["X-Slack-Signature"] = signature or sign(signing_secret, ts, body)
    return headers
