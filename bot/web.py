"""HTTP mode: Bolt on /slack/events, GET /healthz, the inbound webhook routes (signals,
recorders: each checks its own signature first) and, for OAuth installs, Bolt's WSGI adapter
on GET /slack/install and /slack/oauth_redirect, served by waitress.

The edge checks what Bolt would otherwise trip over, in this order: the size (413), the
signature on the raw bytes (401 — before anything is parsed, whatever the body's shape),
then the body's shape (400 for a body no Slack request has). Only then does Bolt see it,
already parsed (once, here), unless it is a slash command or a durable click, which
`bot.slack.listeners.edge` answers without Bolt's dispatch.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
SLACK_PATH = "/slack/events"
MAX_BODY_BYTES = 2 * 1024 * 1024  # Slack's largest payloads (a 50-block view) are ~100 kB
MAX_AGE_SECONDS = 5 * 60  # Slack: reject requests older than five minutes (replays)
# Modules with ROUTES = [(path prefix, make_route(rt) -> WSGI app)]: non-Slack inbound webhooks.
INBOUND_MODULES = ("bot.signals.inbound", "bot.recorders.inbound")


def inbound_routes(rt: Any) -> list[tuple[str, Callable]]:
    routes = []
    for name in INBOUND_MODULES:
        for prefix, factory in importlib.import_module(name).ROUTES:
            routes.append((prefix, factory(rt)))
    return routes


def _reply(start_response: Callable, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def parse_form(text: str) -> dict[str, str]:
    """`dict(urllib.parse.parse_qsl(text, keep_blank_values=True))` — as Bolt reads a form:
    the last of a repeated field wins — at C speed for the escapes. A click's form is one
    field of percent-encoded JSON with a thousand escapes, which the standard library
    decodes one by one in Python: a fifth of the click's ack. Pure."""
    form: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            form[_unquote_plus(name)] = _unquote_plus(value)
    return form


def _unquote_plus(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    try:  # each %XX → \xXX, and the codec turns every escape into its byte at once
        escaped = text.replace("\\", "\\\\").replace("%", "\\x").encode("ascii")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except UnicodeError:  # a bad escape, raw non-ASCII, broken UTF-8: the library's leniency
        return urllib.parse.unquote(text)


def read_body(body: bytes, content_type: str) -> dict[str, Any] | str:
    """The (signed) body as Bolt's listeners see it, or why it cannot be a Slack request.
    Pure. Parsed here once: Bolt would parse it again, and its parser gives a slash command
    whose text contains the word "payload" an empty body."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if kind == "application/json":
        try:
            parsed = json.loads(decoded)
        except ValueError:
            return "the JSON body does not parse"
        return parsed if isinstance(parsed, dict) else "the JSON body is not an object"
    if kind != "application/x-www-form-urlencoded":
        return f"unexpected content type {kind or 'none'}"
    form = parse_form(decoded)
    if "payload" not in form:
        return form if "command" in form or "ssl_check" in form else "not a Slack form"
    try:
        payload = json.loads(form["payload"])
    except ValueError:
        return "the payload field is not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "the payload is not a Slack interaction"
    actions = payload.get("actions")
    if actions is not None and (
        not isinstance(actions, list)
        or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return "the payload's actions are malformed"
    return payload


class _ParsedRequest(BoltRequest):
    """An HTTP request to Bolt whose body the edge has parsed: Bolt's HTTP mode takes only
    the raw text (and parses it again), so it is built as Socket Mode builds one from a dict,
    then given back its raw text and mode, which Bolt's signature check reads."""

    def __init__(self, raw: str, body: dict[str, Any], query: str, headers: dict) -> None:
        super().__init__(body=body, query=query, headers=headers, mode="socket_mode")
        self.raw_body, self.mode = raw, "http"


def signed(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
    """Slack's v0 signature over these exact bytes, made within the last five minutes.

    Slack's algorithm, over bytes: slack_sdk's `SignatureVerifier` raises (→ 500) on a
    timestamp that is not a number and on a body that is not UTF-8, and neither may get
    further than a 401 here."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def slack_edge(
    signing_secret: str | None,
    app: App,
    at_edge: Callable[[dict[str, Any]], BoltResponse | None] | None = None,
) -> Callable:
    """POST /slack/events: the edge's checks, then the parsed request to Bolt — unless
    `at_edge` answers it (`bot.slack.listeners.edge`: a slash command, a durable click)."""

    def edge(environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", {"ok": False, "error": "length"})
        if length > MAX_BODY_BYTES:
            return _reply(start_response, "413 Payload Too Large", {"ok": False, "error": "size"})
        body = environ["wsgi.input"].read(length) if length else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if signing_secret and not signed(signing_secret, body, timestamp, signature):
            log.info("refused an unsigned or stale request to %s", SLACK_PATH)
            return _reply(start_response, "401 Unauthorized", {"ok": False, "error": "signature"})
        parsed = read_body(body, environ.get("CONTENT_TYPE", ""))
        if isinstance(parsed, str):
            log.warning("refused a signed request that is not a Slack request: %s", parsed)
            return _reply(start_response, "400 Bad Request", {"ok": False, "error": parsed})
        answer = at_edge(parsed) if at_edge is not None else None
        if answer is None:
            request = WsgiHttpRequest(environ)
            answer = app.dispatch(
                _ParsedRequest(
                    body.decode("utf-8"), parsed, request.query_string, request.get_headers()
                )
            )
        response = WsgiHttpResponse(answer.status, answer.headers, answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    return edge


def make_wsgi(
    app: App,
    engine: Engine,
    signing_secret: str | None = None,
    rt: Any = None,
    clients: Any = None,
) -> Callable:
    """The app's WSGI routes. With the signing secret, the runtime and the workspaces'
    clients (`serve`), slash commands and durable clicks are answered at the edge, past
    Bolt's dispatch (`bot.slack.listeners.edge`)."""
    at_edge = None
    if signing_secret and rt is not None and clients is not None:
        from bot.slack.listeners import listener_modules
        from bot.slack.listeners.edge import AtEdge

        at_edge = AtEdge(rt, clients, listener_modules())
    slack = slack_edge(signing_secret, app, at_edge)
    flow = app.oauth_flow  # OAuth installs: /slack/install and /slack/oauth_redirect
    oauth_paths = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
    browser = SlackRequestHandler(app, path=SLACK_PATH)
    routes = inbound_routes(rt) if rt is not None else []

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        for prefix, route in routes:
            if path == prefix or path.startswith(prefix + "/"):
                return route(environ, start_response)
        if path == "/healthz" and method in {"GET", "HEAD"}:
            status, body = "200 OK", {"ok": True, "database": "ok"}
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001
                log.warning("health check: database unreachable: %s", type(exc).__name__)
                status, body = "503 Service Unavailable", {"ok": False, "database": "down"}
            return _reply(start_response, status, body)
        if path == SLACK_PATH and method == "POST":
            return slack(environ, start_response)
        if method == "GET" and path in oauth_paths:
            # A person's browser, not Slack: nothing to sign; the one-use `state` (with its
            # cookie) and Slack's code exchange are what Bolt checks there.
            return browser(environ, start_response)
        return _reply(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


def make_server(
    app: App,
    engine: Engine,
    host: str = "0.0.0.0",
    port: int = 3000,
    threads: int = 8,
    signing_secret: str | None = None,
    rt: Any = None,
    clients: Any = None,
) -> Any:
    """A waitress server: `threads` requests at once (WEB_THREADS; the README's ack path says
    why 8 and not more: one interpreter runs one thread at a time, and past what overlaps
    with waiting on Slack and the database, more threads only finish requests less fairly)."""
    from waitress import create_server

    from bot.clikit import Gated

    server = create_server(
        make_wsgi(app, engine, signing_secret, rt, clients),
        host=host,
        port=port,
        threads=threads,
        ident="followthrough",
    )
    # "Task queue depth is N", summarised once a minute, without a record per busy request
    server.task_dispatcher.queue_logger = Gated(logging.getLogger("waitress.queue"))
    return server
