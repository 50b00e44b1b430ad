"""What every inbound webhook route shares (thin WSGI helpers, no domain logic).

Each route verifies its signature on the raw body before parsing, answers 401 unsigned or
stale, 400 unparseable, 413 too large, 202/200 fast, and leaves the work to the worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

STATUS = {
    200: "200 OK",
    202: "202 Accepted",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    503: "503 Service Unavailable",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.code = status  # the HTTP status to answer


def headers_of(environ: dict[str, Any]) -> dict[str, str]:
    """Request headers, lower-case names (CGI's HTTP_X_Y → x-y)."""
    out = {
        k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = str(environ["CONTENT_TYPE"])
    return out


def query_of(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING") or "")).items() if v}


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes (413) without reading it all."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "bad Content-Length") from None
    if length > limit:
        raise HttpError(413, f"body is {length} bytes; at most {limit} accepted")
    stream = environ.get("wsgi.input")
    data = stream.read(min(length, limit + 1)) if stream is not None and length else b""
    if len(data) > limit:
        raise HttpError(413, f"body is over {limit} bytes")
    return data


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "body is not JSON (UTF-8)") from None


def respond(start_response: Callable, status: int, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        STATUS.get(status, f"{status} Error"),
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


Route = Callable[[dict[str, Any], Callable], Iterable[bytes]]
