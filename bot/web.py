"""HTTP mode: Bolt's WSGI adapter on /slack/events, GET /healthz and the inbound webhook
routes (signals, recorders), served by waitress."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Modules with ROUTES = [(path prefix, make_route(rt) -> WSGI app)]: non-Slack inbound webhooks.
INBOUND_MODULES = ("bot.signals.inbound", "bot.recorders.inbound")


def inbound_routes(rt: Any) -> list[tuple[str, Callable]]:
    routes = []
    for name in INBOUND_MODULES:
        for prefix, factory in importlib.import_module(name).ROUTES:
            routes.append((prefix, factory(rt)))
    return routes


def make_wsgi(app: App, engine: Engine, rt: Any = None) -> Callable:
    slack = SlackRequestHandler(app, path="/slack/events")
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
            data = json.dumps(body).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            )
            return [data]
        return slack(environ, start_response)

    return wsgi


def make_server(
    app: App,
    engine: Engine,
    host: str = "0.0.0.0",
    port: int = 3000,
    threads: int = 16,
    rt: Any = None,
):
    """A waitress server (threaded: one slow request never queues the others)."""
    from waitress import create_server

    return create_server(
        make_wsgi(app, engine, rt), host=host, port=port, threads=threads, ident="followthrough"
    )
