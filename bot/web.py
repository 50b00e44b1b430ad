"""HTTP mode: Bolt's WSGI adapter on /slack/events plus GET /healthz, served by waitress."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def make_wsgi(app: App, engine: Engine) -> Callable:
    slack = SlackRequestHandler(app, path="/slack/events")

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
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
    app: App, engine: Engine, host: str = "0.0.0.0", port: int = 3000, threads: int = 16
):
    """A waitress server (threaded: one slow request never queues the others)."""
    from waitress import create_server

    return create_server(
        make_wsgi(app, engine), host=host, port=port, threads=threads, ident="followthrough"
    )
