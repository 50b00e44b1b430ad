"""The HTTP server both CRM stand-ins share: threads on 127.0.0.1, a request log, faults.

Faults are what a real CRM does on a bad day: a burst of rate-limit answers, an outage
(503 for everything), and — for crash tests — holding one request after it took effect,
so a test can kill the client mid-write.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Self

from bot.devtools.httpd import StandinHandler

Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode()).items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class Faults:
    """Injected misbehaviour, consumed in order."""

    queue: list[tuple[Callable[[Request], bool], Reply]] = field(default_factory=list)
    down: Reply | None = None
    lose: list[tuple[Callable[[Request], bool], Reply]] = field(default_factory=list)
    hold: Callable[[Request], bool] | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class StandinServer:
    """Subclasses implement `route(request) -> Reply`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[tuple[str, str]] = []
        self.faults = Faults()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        standin = self

        class Handler(StandinHandler):
            def _handle(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parsed.path,
                    urllib.parse.parse_qs(parsed.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                status, body, headers = standin.dispatch(request)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, daemon=True, name=type(self).__name__
        ).start()
        return self

    def stop(self) -> None:
        self.faults.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- faults ----------------------------------------------------------------------------
    def fail_next(
        self, count: int, reply: Reply, when: Callable[[Request], bool] = lambda r: True
    ) -> None:
        with self.lock:
            self.faults.queue += [(when, reply)] * count

    def go_down(self, reply: Reply | None = None) -> None:
        self.faults.down = reply or (503, {"message": "Service Unavailable"}, {})

    def come_back(self) -> None:
        self.faults.down = None

    def lose_answer(self, when: Callable[[Request], bool], reply: Reply | None = None) -> None:
        """The next matching request takes effect, but the client gets an error instead
        (a gateway timeout after the write: the client cannot know it worked)."""
        with self.lock:
            self.faults.lose.append((when, reply or (504, {"message": "Gateway Timeout"}, {})))

    def hold_after(self, when: Callable[[Request], bool]) -> None:
        """The next matching request takes effect, then its answer waits for `release`."""
        self.faults.hold = when
        self.faults.held.clear()
        self.faults.release.clear()

    def count(self, method: str | None = None, contains: str = "") -> int:
        with self.lock:
            return sum(1 for m, p in self.calls if (method in (None, m)) and contains in p)

    # -- dispatch --------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.calls.append((request.method, request.path))
            if self.faults.down is not None:
                return self.faults.down
            for i, (when, reply) in enumerate(self.faults.queue):
                if when(request):
                    del self.faults.queue[i]
                    return reply
            hold = self.faults.hold is not None and self.faults.hold(request)
            if hold:
                self.faults.hold = None
            reply = self.route(request)
            for i, (when, lost) in enumerate(self.faults.lose):
                if when(request):
                    del self.faults.lose[i]
                    reply = lost
                    break
        if hold:
            self.faults.held.set()
            self.faults.release.wait()
        return reply

    def route(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError
