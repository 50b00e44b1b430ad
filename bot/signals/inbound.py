"""`POST /signals[/<source>]`: the signed inbound signals API (a thin edge).

Order per request: method → size (413) → whose and which secret → signature on the raw
body (401, nothing parsed before it) → JSON (400) → format or adapter (400) → one INSERT …
ON CONFLICT (duplicates are acknowledged, a replay is 401) → 202. Rules run in the worker.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bot import clock
from bot.inbound import HttpError, Route, headers_of, parse_json, query_of, read_body, respond
from bot.runtime import Runtime
from bot.signals import adapters, verify
from bot.signals.payload import PayloadError
from bot.signals.store import Target, store, target_for

log = logging.getLogger(__name__)
PREFIX = "/signals"


def _source(path: str) -> str | None:
    rest = path[len(PREFIX) :].strip("/")
    if not rest:
        return None
    if "/" in rest or len(rest) > 40:
        raise HttpError(404, "unknown signal source")
    return rest


def _delivery(target: Target, body: bytes, environ: dict[str, Any]) -> verify.Delivery:
    headers = headers_of(environ)
    if target.adapter == "zendesk" and target.secret:
        return verify.zendesk(target.secret, body, headers)
    if headers.get("webhook-signature") and target.secret:
        return verify.standard_webhooks(target.secret, body, headers)
    token = query_of(environ).get("token") or headers.get("x-followthrough-token")
    if token and target.url_token:
        return verify.url_token(
            target.url_token,
            token,
            headers.get("webhook-id") or "body:" + hashlib.sha256(body).hexdigest()[:40],
        )
    raise verify.Unauthorized(
        "not signed: send webhook-id, webhook-timestamp and webhook-signature"
    )


def handle(rt: Runtime, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if environ.get("REQUEST_METHOD") != "POST":
        raise HttpError(405, "POST signals here")
    source = _source(str(environ.get("PATH_INFO") or ""))
    body = read_body(environ, rt.settings.max_signal_kb * 1024)
    target = target_for(rt.engine, rt.settings, source)
    if target is None:
        if source is None:
            raise HttpError(503, "signals are not set up: set SIGNALS_WEBHOOK_SECRET")
        raise HttpError(404, "unknown signal source")
    try:
        delivery = _delivery(target, body, environ)
    except verify.Unauthorized as exc:
        raise HttpError(401, str(exc)) from None
    data = parse_json(body)
    try:
        signals = adapters.parse(
            target.adapter,
            data,
            source=target.source,
            delivery_id=delivery.webhook_id,
            now=clock.now(),
        )
    except PayloadError as exc:
        raise HttpError(400, str(exc)) from None
    stored = store(
        rt.engine,
        target.team_id,
        signals,
        auth=delivery.auth,
        webhook_id=delivery.webhook_id,
        webhook_ts=delivery.timestamp,
        grouped=True,
    )
    if stored.replayed:
        raise HttpError(401, "replayed delivery (same webhook-id and timestamp as before)")
    return 202, {
        "ok": True,
        "accepted": stored.accepted,
        "duplicates": stored.duplicates,
        "ignored": 0 if signals else 1,
    }


def make_route(
    rt: Runtime, handler: Callable[[Runtime, dict[str, Any]], tuple[int, dict]] = handle
) -> Route:
    """A WSGI app for one inbound route: errors become short JSON answers, never tracebacks."""

    def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            status, body = handler(rt, environ)
        except HttpError as exc:
            status, body = exc.code, {"ok": False, "error": str(exc)}
            if status == 401:
                log.info("inbound %s refused: %s", environ.get("PATH_INFO"), exc)
        except Exception as exc:  # noqa: BLE001 — the sender retries on 503; we keep nothing half-done
            log.error(
                "inbound %s failed: %s",
                environ.get("PATH_INFO"),
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            status, body = 503, {"ok": False, "error": "temporarily unavailable; retry"}
        return respond(start_response, status, body)

    return route


ROUTES = [(PREFIX, make_route)]
