"""slack_sdk's `WebClient` over a shared, kept-alive connection pool.

slack_sdk's sync client sends each call with `urllib.request.urlopen`: a new TCP (and TLS)
connection per call, which is most of a Web API call's time from a server near Slack and
CPU the ack path cannot spare. `PooledWebClient` keeps everything else of `WebClient` — its
methods, `base_url` (SLACK_API_URL), `timeout` (SLACK_TIMEOUT_SECONDS), token and its retry
handlers (429 with Retry-After, 5xx, connection errors) — and replaces only the one
transport method, `_perform_urllib_http_request_internal`, with a thread-safe httpx client
shared by the process. It answers exactly as urllib does: a 4xx/5xx is raised as urllib's
`HTTPError` (what the retry loop reads), a broken connection as `URLError`, a timeout as
`TimeoutError`, so slack_sdk's retry handlers and our `DeliveryError` mapping see what they
always saw.

Bolt builds a plain `WebClient` per request; `pooled(client)` is its pooled twin (same token,
server, timeout and retries), which the app's middleware puts in the request context.
"""

from __future__ import annotations

import http.client
import io
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

KEEPALIVE_SECONDS = 30.0  # below any load balancer's idle timeout, so a kept connection is live
_pools: dict[int, httpx.Client] = {}
_lock = threading.Lock()


def _pool(ssl: Any) -> httpx.Client:
    """One pool per process (per SSL context, which a client may set)."""
    key = id(ssl) if ssl is not None else 0
    with _lock:
        client = _pools.get(key)
        if client is None:
            client = httpx.Client(
                verify=ssl if ssl is not None else True,
                limits=httpx.Limits(
                    max_connections=64,
                    max_keepalive_connections=32,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
                follow_redirects=False,
                trust_env=False,  # a proxy is the client's own `proxy` setting, as in slack_sdk
            )
            _pools[key] = client
        return client


def _message(headers: httpx.Headers) -> http.client.HTTPMessage:
    msg = http.client.HTTPMessage()
    for name, value in headers.multi_items():
        msg[name] = value
    return msg


class PooledWebClient(WebClient):
    """A `WebClient` whose calls reuse kept-alive connections (see the module docstring)."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:  # slack_sdk's own proxy handling, unchanged
            return super()._perform_urllib_http_request_internal(url, req)
        if not url.lower().startswith("http"):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        headers = {name: str(value) for name, value in req.header_items()}
        data = bytes(req.data) if isinstance(req.data, bytes | bytearray) else None
        try:
            resp = _pool(self.ssl).post(url, content=data, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"Slack did not answer within {self.timeout}s") from exc
        except httpx.TransportError as exc:
            raise URLError(exc) from exc
        message = _message(resp.headers)
        if resp.status_code >= 400:
            raise HTTPError(
                url, resp.status_code, resp.reason_phrase, message, io.BytesIO(resp.content)
            )
        if message.get_content_type() == "application/gzip":
            return {"status": resp.status_code, "headers": message, "body": resp.content}
        charset = message.get_content_charset() or "utf-8"
        body = resp.content.decode(charset)
        return {"status": resp.status_code, "headers": message, "body": body}


def pooled(client: WebClient, **changes: Any) -> PooledWebClient:
    """`client`'s settings (token, server, timeout, retries …) on the shared pool."""
    settings: dict[str, Any] = {
        "token": client.token,
        "base_url": client.base_url,
        "timeout": client.timeout,
        "ssl": client.ssl,
        "proxy": client.proxy,
        "headers": dict(client.headers or {}),
        "team_id": client.default_params.get("team_id"),
        "logger": client.logger,
        "retry_handlers": list(client.retry_handlers or []),
    }
    settings.update(changes)
    return PooledWebClient(**settings)
