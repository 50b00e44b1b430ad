"""slack_sdk's `WebClient` over a shared, kept-alive connection pool.

slack_sdk's sync client sends each call with `urllib.request.urlopen`: a new TCP (and TLS)
connection per call, which is most of a Web API call's time from a server near Slack and
CPU the ack path cannot spare. `PooledWebClient` keeps everything else of `WebClient` — its
methods, `base_url` (SLACK_API_URL), `timeout` (SLACK_TIMEOUT_SECONDS), token and its retry
handlers (429 with Retry-After, 5xx, connection errors) — and replaces only the one
transport method, `_perform_urllib_http_request_internal`, with kept-alive `http.client`
connections shared by the process. It answers exactly as urllib does: a 4xx/5xx is raised as
urllib's `HTTPError` (what the retry loop reads), a broken connection as `URLError`, a
timeout as `TimeoutError`, so slack_sdk's retry handlers and our `DeliveryError` mapping see
what they always saw.

Why `http.client` and not httpx or urllib3: the same call to the stand-in costs 0.7–0.8 ms
of CPU over a kept `http.client` connection, 1.3–1.4 ms through urllib3 and 1.8 ms through
httpx (`bench/slack_transport.py`, stand-in included), and every Yes makes three calls. The
pool is the small part httpcore would add: idle connections per server, dropped after
`KEEPALIVE_SECONDS` or when the server has closed them (read before reuse, as httpcore
does), never more than `MAX_IDLE` kept.

Bolt builds a plain `WebClient` per request; `pooled(client)` is its pooled twin (same token,
server, timeout and retries), which the app's middleware puts in the request context.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl as ssllib
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

KEEPALIVE_SECONDS = 30.0  # below any load balancer's idle timeout, so a kept connection is live
MAX_IDLE = 32  # kept connections per server; more callers at once open (and drop) their own
Connection = http.client.HTTPConnection  # HTTPSConnection is a subclass


class ConnectionPool:
    """Idle kept-alive connections per (scheme, host, port, TLS context); thread-safe."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[tuple[Connection, float]]] = {}
        self._lock = threading.Lock()
        self._default_tls: ssllib.SSLContext | None = None

    def take(
        self, scheme: str, host: str, port: int | None, tls: Any, timeout: float
    ) -> tuple[tuple[Any, ...], Connection]:
        """A live idle connection to the server, else a new (not yet connected) one."""
        key = (scheme, host, port, id(tls) if tls is not None else 0)
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn, since = idle.pop()
                if now - since < KEEPALIVE_SECONDS and _still_open(conn):
                    conn.sock.settimeout(timeout)
                    return key, conn
                conn.close()
            if scheme == "https" and tls is None and self._default_tls is None:
                self._default_tls = ssllib.create_default_context()  # loads the CAs once
            default_tls = self._default_tls
        if scheme == "https":
            tls = tls or default_tls
            return key, http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
        return key, http.client.HTTPConnection(host, port, timeout=timeout)

    def give_back(self, key: tuple[Any, ...], conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE:
                idle.append((conn, time.monotonic()))
                return
        conn.close()


def _still_open(conn: Connection) -> bool:
    """An idle connection the server has closed (or sent anything on) reads as ready."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


_pool = ConnectionPool()


class PooledWebClient(WebClient):
    """A `WebClient` whose calls reuse kept-alive connections (see the module docstring)."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:  # slack_sdk's own proxy handling, unchanged
            return super()._perform_urllib_http_request_internal(url, req)
        if not url.lower().startswith("http"):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        headers = {name: str(value) for name, value in req.header_items()}
        data = bytes(req.data) if isinstance(req.data, bytes | bytearray) else None
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key, conn = _pool.take(
            parts.scheme.lower(), parts.hostname or "", parts.port, self.ssl, self.timeout
        )
        try:
            conn.request("POST", path, body=data, headers=headers)
            resp = conn.getresponse()
            content = resp.read()
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            conn.close()
            raise TimeoutError(f"Slack did not answer within {self.timeout}s") from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise URLError(exc) from exc
        if resp.will_close:
            conn.close()
        else:
            _pool.give_back(key, conn)
        message = resp.headers
        if resp.status >= 400:
            raise HTTPError(url, resp.status, resp.reason, message, io.BytesIO(content))
        if message.get_content_type() == "application/gzip":
            return {"status": resp.status, "headers": message, "body": content}
        charset = message.get_content_charset() or "utf-8"
        return {"status": resp.status, "headers": message, "body": content.decode(charset)}


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
