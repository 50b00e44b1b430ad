"""The HTTP plumbing every stand-in shares: a threaded server on 127.0.0.1, recorded
requests, scripted replies (the fake OpenAI server's `Hang`, `Status`, `Refusal`,
`InvalidJSON`), token counting and the chat-completion answer shape. Dialects decide routes,
`response_format` handling, context limits and error bodies."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.devtools.fake_openai import Hang, InvalidJSON, RecordedRequest, Refusal, Status
from bot.devtools.httpd import StandinHandler

Scripted = str | Hang | Status | Refusal | InvalidJSON | Callable[[dict[str, Any]], str]
_TOKEN = re.compile(r"\w+|[^\w\s]")
_LINE = re.compile(r"^\[(\d+)\] ([^:\n]{1,80}): (.*)$", re.MULTILINE)


def count_tokens(text: str) -> int:
    """A tokenizer's count, near enough: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def prompt_tokens(body: dict[str, Any]) -> int:
    return sum(count_tokens(str(m.get("content") or "")) + 4 for m in body.get("messages", []))


@dataclass
class Answer:
    """What a route sends back."""

    status: int
    payload: dict[str, Any] | str
    headers: dict[str, str] | None = None


class AnswerLikeAModel:
    """A stand-in model: reads the `[n] Speaker: text` transcript lines of the last user
    message and promises what the offline rules engine finds there. Under a JSON constraint
    it answers bare JSON; without one it wraps the JSON in prose, as small local models do."""

    def __call__(self, body: dict[str, Any]) -> str:
        from bot.llm.base import CallContext
        from bot.llm.rules import RulesEngine
        from bot.transcripts.model import Utterance

        user = next(
            (m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
            "",
        )
        lines = [(int(n), who, text) for n, who, text in _LINE.findall(str(user))]
        date = re.search(r"Call date: (\d{4}-\d{2}-\d{2})", str(user))
        context = CallContext(
            call_date=dt.date.fromisoformat(date.group(1)) if date else dt.date.today()
        )
        found = RulesEngine().extract([Utterance(w, t) for _, w, t in lines], context)
        items = [
            {
                "owner": c.owner,
                "side": "unknown",
                "text": c.text,
                "due": c.due.isoformat() if c.due else None,
                "due_phrase": c.due_phrase,
                "category": str(c.category),
                "evidence": lines[c.utterance_index][2]
                if c.utterance_index is not None
                else c.evidence,
                "confidence": c.confidence,
                "utterance_index": lines[c.utterance_index][0]
                if c.utterance_index is not None
                else None,
            }
            for c in found.commitments
        ]
        answer = json.dumps({"commitments": items})
        constrained = (body.get("response_format") or {}).get("type") in {
            "json_schema",
            "json_object",
        }
        return (
            answer
            if constrained
            else f"Sure! Here are the commitments I found:\n\n```json\n{answer}\n```"
        )


class StandInServer:
    """A threaded HTTP server on a free 127.0.0.1 port; subclasses implement `route`."""

    model = "model"

    def __init__(
        self, model: str | None = None, responder: Callable[[dict[str, Any]], str] | None = None
    ) -> None:
        self.model = model or type(self).model
        self.responder = responder or AnswerLikeAModel()
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def root(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL should be set to."""
        return f"{self.root}/v1"

    def __enter__(self) -> StandInServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # scripting and inspection

    def script(self, replies: Iterable[Scripted]) -> None:
        """Replies for the next chat requests, in order; then the responder."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if "chat/completions" in r.path]

    # what dialects implement

    def route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> Answer:
        raise NotImplementedError

    # shared chat behaviour

    def reply_content(self, body: dict[str, Any]) -> Answer | str | Refusal:
        """The next scripted reply or the responder's; faults become their HTTP answers."""
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        if scripted is None:
            return self.responder(body)
        if isinstance(scripted, Hang):
            self._stopping.wait(scripted.seconds)
            return self.responder(body)
        if isinstance(scripted, Status):
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = str(max(1, round(scripted.retry_after)))
            return Answer(scripted.code, self.error_body(scripted.code, scripted.message), headers)
        if isinstance(scripted, InvalidJSON):
            return scripted.content
        if isinstance(scripted, Refusal):
            return scripted
        if callable(scripted):
            return scripted(body)
        return scripted

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

    def completion(
        self,
        body: dict[str, Any],
        content: str | None,
        refusal: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        prompt = prompt_tokens(body)
        answer = count_tokens(content or refusal or "")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if refusal is not None:
            message["refusal"] = refusal
        payload = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": answer,
                "total_tokens": prompt + answer,
            },
        }
        payload.update(extra or {})
        return payload

    def chat(self, body: dict[str, Any], extra: dict[str, Any] | None = None) -> Answer:
        reply = self.reply_content(body)
        if isinstance(reply, Answer):
            return reply
        if isinstance(reply, Refusal):
            return Answer(200, self.completion(body, None, reply.text, extra))
        return Answer(200, self.completion(body, str(reply), None, extra))

    # HTTP

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(StandinHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"__invalid__": True}
                if not isinstance(body, dict):
                    body = {"__invalid__": True}
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(RecordedRequest(method, self.path, headers, body))
                answer = server.route(method, parts.path.rstrip("/") or "/", query, headers, body)
                payload = answer.payload
                data = (json.dumps(payload) if not isinstance(payload, str) else payload).encode()
                try:
                    self.send_response(answer.status)
                    kind = "application/json" if not isinstance(payload, str) else "text/plain"
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (answer.headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

        return Handler
