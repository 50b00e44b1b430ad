"""A Zoom stand-in, from Zoom's webhook and cloud-recording documentation:

- `ZoomWebhookSender` signs like Zoom (`x-zm-request-timestamp`, `x-zm-signature:
  v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`), sends `endpoint.url_validation` with a
  `plainToken` and checks the `encryptedToken` the way Zoom does, and sends
  `recording.transcript_completed` with `download_token` next to `payload`;
- `ZoomDownloadServer` serves `download_url`s on 127.0.0.1 that need
  `Authorization: Bearer <download_token>`; a token expires (401, Zoom's error body), and
  the next N downloads can be made to fail (HTTP 5xx or a dropped connection).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import httpx

from bot.devtools.httpd import StandinHandler
from bot.devtools.webhook_senders import Answer, _answer


@dataclass
class _File:
    content: bytes
    token: str
    expires: float


@dataclass
class _State:
    files: dict[str, _File] = field(default_factory=dict)
    fail_next: int = 0
    fail_status: int = 503
    downloads: list[tuple[str, int]] = field(default_factory=list)  # (file id, status)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ZoomDownloadServer:
    def __init__(self) -> None:
        self.state = _State()
        state = self.state

        class Handler(StandinHandler):
            def do_GET(self) -> None:  # noqa: N802
                file_id = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
                auth = self.headers.get("Authorization", "")
                with state.lock:
                    f = state.files.get(file_id)
                    fail = state.fail_next > 0
                    if fail:
                        state.fail_next -= 1
                    status = state.fail_status if fail else 200
                    if not fail:
                        if f is None:
                            status = 404
                        elif auth != f"Bearer {f.token}" or f.expires < time.time():
                            status = 401
                    state.downloads.append((file_id, status))
                if status == 200 and f is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/vtt")
                    self.send_header("Content-Length", str(len(f.content)))
                    self.end_headers()
                    self.wfile.write(f.content)
                    return
                body = {
                    401: {"code": 124, "message": "Invalid access token."},
                    404: {"code": 3301, "message": "This recording does not exist."},
                }.get(status, {"code": 500, "message": "Internal server error"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> ZoomDownloadServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, content: bytes, ttl: float = 86400) -> tuple[str, str]:
        """Host a transcript; returns (download_url, download_token)."""
        file_id = uuid.uuid4().hex
        token = "eyJ" + secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.files[file_id] = _File(content, token, time.time() + ttl)
        return f"{self.root}/rec/download/{file_id}", token

    def expire_all(self) -> None:
        with self.state.lock:
            for f in self.state.files.values():
                f.expires = 0

    def fail(self, times: int, status: int = 503) -> None:
        with self.state.lock:
            self.state.fail_next, self.state.fail_status = times, status

    def downloads(self) -> list[tuple[str, int]]:
        with self.state.lock:
            return list(self.state.downloads)


class ZoomWebhookSender:
    def __init__(self, url: str, secret_token: str) -> None:
        self.url, self.secret = url, secret_token
        self.client = httpx.Client(timeout=10)

    def _headers(self, body: bytes, ts: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if ts is None else ts)
        sig = hmac.new(self.secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        return {
            "content-type": "application/json",
            "x-zm-request-timestamp": stamp,
            "x-zm-signature": f"v0={sig.hexdigest()}",
            "user-agent": "Zoom Marketplace/1.0a",
        }

    def post(self, event: dict[str, Any], *, ts: int | None = None, signed: bool = True) -> Answer:
        body = json.dumps(event).encode()
        headers = self._headers(body, ts) if signed else {"content-type": "application/json"}
        return _answer(self.client.post(self.url, content=body, headers=headers))

    def validate_url(self) -> bool:
        """Zoom's endpoint check: the answer must carry HMAC(secret, plainToken) in hex."""
        plain = secrets.token_urlsafe(16)
        ans = self.post(
            {
                "event": "endpoint.url_validation",
                "payload": {"plainToken": plain},
                "event_ts": int(time.time() * 1000),
            }
        )
        expected = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
        return ans.status == 200 and ans.body == {"plainToken": plain, "encryptedToken": expected}

    def close(self) -> None:
        self.client.close()


def transcript_completed(
    download_url: str,
    token: str,
    *,
    topic: str = "Acme <> Vendor weekly sync",
    host_email: str = "maya@vendor.io",
    meeting_uuid: str | None = None,
    file_id: str | None = None,
    start: str = "2026-11-20T15:00:00Z",
) -> dict[str, Any]:
    """A `recording.transcript_completed` event in the shape of Zoom's documented sample."""
    return {
        "event": "recording.transcript_completed",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": "AAAAAABBBB",
            "object": {
                "id": 1234567890,
                "uuid": meeting_uuid or "4444AAAiAAAAAiAiAiiAii==",
                "host_id": "x1yCzABCDEfg123HiJKlmN",
                "host_email": host_email,
                "topic": topic,
                "type": 2,
                "start_time": start,
                "timezone": "America/New_York",
                "duration": 45,
                "total_size": 142,
                "recording_count": 1,
                "recording_files": [
                    {
                        "id": file_id or "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
                        "meeting_id": "098765ABCD",
                        "recording_start": start,
                        "recording_end": start,
                        "file_type": "TRANSCRIPT",
                        "file_extension": "VTT",
                        "file_size": 142,
                        "play_url": "https://zoom.us/rec/play/example",
                        "download_url": download_url,
                        "status": "completed",
                        "recording_type": "audio_transcript",
                    }
                ],
            },
        },
        "download_token": token,
    }
