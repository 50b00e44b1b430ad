"""The request handler every local stand-in (Slack, CRMs, recorders, LLM servers) builds on."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any


class StandinHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with kept-alive connections, as the vendors serve, and silent (request lines
    carry ids, bodies carry transcripts).

    `disable_nagle_algorithm`: `BaseHTTPRequestHandler` writes the headers and the body as
    two sends. On a kept-alive connection Nagle holds the body until the client ACKs the
    headers, and the client delays that ACK by 40 ms — a stall on every call that no vendor's
    front end adds, and that would be charged to the app in every latency figure."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Silent: see the class docstring."""
