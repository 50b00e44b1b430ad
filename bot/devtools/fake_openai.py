"""A local OpenAI-compatible server for tests and the demo: scripted answers, real HTTP.

It speaks just enough of the Chat Completions API (`POST /v1/chat/completions`,
`GET /v1/models`) for the official `openai` client, and can be told to misbehave the ways
real servers do: hang, fail with 500/429 (+ Retry-After), refuse, or answer with broken JSON.
Every request is recorded so tests can assert what the app actually sent.

    with FakeOpenAIServer() as server:
        server.script(['{"commitments": []}', Hang(5), Status(500)])
        engine = OpenAIEngine(server.base_url, "test-key", "fake-model")

Run `python -m bot.devtools.fake_openai --port 8089` to serve it for a demo.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.devtools.httpd import StandinHandler


@dataclass(frozen=True)
class Hang:
    """Answer nothing for `seconds` (the client should time out first)."""

    seconds: float


@dataclass(frozen=True)
class Status:
    """An HTTP error in OpenAI's error shape; `retry_after` (seconds) sets the retry headers."""

    code: int
    retry_after: float | None = None
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class Refusal:
    """A safety refusal: `message.refusal` set, `content` null."""

    text: str = "I'm sorry, I can't help with that."


@dataclass(frozen=True)
class InvalidJSON:
    """A 200 answer whose content is not JSON."""

    content: str = 'Sure! Here are the commitments: {"commitments": [ {"owner": "Dana",'


Fault = Hang | Status | Refusal | InvalidJSON
Reply = str | Fault
Responder = Callable[[dict[str, Any]], "Reply | type[InvalidJSON]"]
Scripted = Reply | Responder | type[InvalidJSON]

DEFAULT_DRAFT = (
    "Hi, thank you for the time on our call. As promised, I am following up on the points we "
    "discussed and the next steps we agreed. Could we set up a short call this week to make "
    "sure everything is on track? Best regards"
)


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def content_of(self, role: str) -> list[str]:
        """Texts of all messages with `role`, in order."""
        return [str(m.get("content") or "") for m in self.messages if m.get("role") == role]

    @property
    def system(self) -> str:
        return "\n".join(self.content_of("system"))

    @property
    def last_user(self) -> str:
        users = self.content_of("user")
        return users[-1] if users else ""


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def default_reply(body: dict[str, Any]) -> str:
    """No commitments for a structured (extraction) request, a filled-in draft otherwise."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") in {"json_schema", "json_object"}:
        return '{"commitments": []}'
    return DEFAULT_DRAFT


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 (free port) with a queue of scripted replies."""

    def __init__(
        self,
        model: str = "fake-model",
        api_key: str | None = None,
        default: Responder = default_reply,
        port: int = 0,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any Hang
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # scripting

    def script(self, responses: Iterable[Scripted]) -> None:
        """Queue replies for the next chat requests, one each, in order; then the default."""
        with self._lock:
            self._queue.extend(responses)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            scripted: Scripted = self._queue.popleft() if self._queue else self.default
        if scripted is InvalidJSON:
            return InvalidJSON()
        if callable(scripted) and not isinstance(scripted, type):
            scripted = scripted(body)
            if scripted is InvalidJSON:
                return InvalidJSON()
        assert isinstance(scripted, str | Hang | Status | Refusal | InvalidJSON), scripted
        return scripted

    # HTTP

    def _completion(self, body: dict[str, Any], content: str | None, refusal: str | None):
        prompt_words = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        answer_words = len((content or refusal or "").split())
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": answer_words,
                "total_tokens": prompt_words + answer_words,
            },
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(StandinHandler):
            def _send(self, status: int, payload: dict[str, Any], headers=None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to tell it

            def _error(self, status: int, message: str, kind: str, headers=None) -> None:
                error = {"message": message, "type": kind, "param": None, "code": None}
                self._send(status, {"error": error}, headers)

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._error(401, "Incorrect API key provided.", "invalid_request_error")
                return False

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                server.requests.append(
                    RecordedRequest("GET", self.path, _lower(self.headers.items()))
                )
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/v1/models":
                    self._error(404, f"Unknown path {self.path}", "invalid_request_error")
                    return
                model = {
                    "id": server.model,
                    "object": "model",
                    "created": 0,
                    "owned_by": "followthrough",
                }
                self._send(200, {"object": "list", "data": [model]})

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                server.requests.append(
                    RecordedRequest("POST", self.path, _lower(self.headers.items()), body)
                )
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, f"Unknown path {self.path}", "invalid_request_error")
                    return
                if not isinstance(body.get("messages"), list) or body.get("stream"):
                    self._error(
                        400,
                        "messages is required; stream is not supported",
                        "invalid_request_error",
                    )
                    return
                reply = server._next_reply(body)
                if isinstance(reply, Hang):
                    server._stopping.wait(reply.seconds)
                    reply = server.default(body)  # type: ignore[assignment]
                if isinstance(reply, Status):
                    headers = {}
                    if reply.retry_after is not None:
                        headers["Retry-After"] = str(max(1, round(reply.retry_after)))
                        headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
                    kind = "rate_limit_exceeded" if reply.code == 429 else "server_error"
                    self._error(reply.code, reply.message, kind, headers)
                elif isinstance(reply, Refusal):
                    self._send(200, server._completion(body, None, reply.text))
                elif isinstance(reply, InvalidJSON):
                    self._send(200, server._completion(body, reply.content, None))
                else:
                    self._send(200, server._completion(body, str(reply), None))

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake OpenAI-compatible API.")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--model", default="fake-model")
    args = parser.parse_args()
    server = FakeOpenAIServer(model=args.model, port=args.port)
    print(f"fake OpenAI server on {server.base_url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
