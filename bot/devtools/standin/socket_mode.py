"""Socket Mode for the stand-in (contract §2.8, §6): `apps.connections.open`, the `/link/`
WebSocket, `hello`, envelopes out and acks back.

`apps.connections.open` with a registered app-level token (`xapp-…`) hands out a one-use ticket
URL on a local WebSocket server (the `websockets` package, started on first use in a thread).
A connected client gets `hello` first; `SocketModeHub.send` pushes envelopes to the newest
connection and `wait_ack` returns what the app acknowledged, so a test sees exactly what Slack
would: an ack (with its optional payload) or none. Builders here are pure; the envelope payloads
come from the same builders the HTTP driver uses (see `envelope_for_request`).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

log = logging.getLogger(__name__)

EVENTS_API = "events_api"
SLASH_COMMANDS = "slash_commands"
INTERACTIVE = "interactive"
# Interactions whose ack body Slack uses (a response_action, options); others ack empty.
_RESPONSE_PAYLOAD_INTERACTIONS = ("view_submission", "block_suggestion")
_HOST = "standin-socket-mode"


# -- pure builders -------------------------------------------------------------------------------


def socket_envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    envelope_id: str | None = None,
    accepts_response_payload: bool | None = None,
    retry_attempt: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, Any]:
    """One Socket Mode envelope. Events always carry retry fields (0/"" on first delivery)."""
    if accepts_response_payload is None:
        accepts_response_payload = kind == SLASH_COMMANDS or (
            kind == INTERACTIVE and payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
        )
    envelope: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": kind,
        "accepts_response_payload": accepts_response_payload,
    }
    if kind == EVENTS_API or retry_attempt is not None:
        envelope["retry_attempt"] = retry_attempt or 0
        envelope["retry_reason"] = retry_reason or ""
    return envelope


def envelope_for_request(
    body: bytes, content_type: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The envelope Slack would send over the socket instead of this HTTP request.

    JSON → `events_api`; a form with a single `payload` field → `interactive`; any other form →
    `slash_commands` (the form fields as a dict of strings). `X-Slack-Retry-Num`/`-Reason`
    headers become `retry_attempt`/`retry_reason`.
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    retry = lowered.get("x-slack-retry-num")
    retry_attempt = int(retry) if retry else None
    retry_reason = lowered.get("x-slack-retry-reason")
    if "json" in content_type.lower():
        return socket_envelope(
            EVENTS_API, json.loads(body), retry_attempt=retry_attempt, retry_reason=retry_reason
        )
    fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    if set(fields) == {"payload"}:
        return socket_envelope(
            INTERACTIVE,
            json.loads(fields["payload"]),
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
    return socket_envelope(
        SLASH_COMMANDS, fields, retry_attempt=retry_attempt, retry_reason=retry_reason
    )


def hello_message(num_connections: int, app_id: str) -> dict[str, Any]:
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {"host": _HOST, "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": app_id},
    }


def disconnect_message(reason: str) -> dict[str, Any]:
    """`refresh_requested` (Slack rotates connections) or `too_many_websockets`, etc."""
    return {"type": "disconnect", "reason": reason, "debug_info": {"host": _HOST}}


def connections_open_error(token: str | None) -> str:
    """The error for a token that is not a registered app-level token."""
    if token and token.startswith(("xoxb-", "xoxp-")):
        return "not_allowed_token_type"
    return "invalid_auth"


# -- the WebSocket side --------------------------------------------------------------------------


@dataclass(frozen=True)
class AppToken:
    team_id: str
    app_id: str


@dataclass(frozen=True)
class _Client:
    team_id: str
    connection: Any  # websockets.sync.server.ServerConnection


class SocketModeHub:
    """App-level tokens, tickets, live connections, sent envelopes and received acks."""

    def __init__(self, open_timeout: float = 30.0, ping_interval: float = 0.2) -> None:
        # Slack pings its clients too. A short interval matters for slack_sdk's builtin client:
        # it closes a socket only after its blocking read returns (else up to 3 s later).
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self._cond = threading.Condition()
        self._tokens: dict[str, AppToken] = {}
        self._tickets: dict[str, AppToken] = {}
        self._handshakes: dict[Any, AppToken] = {}
        self._clients: list[_Client] = []
        self.connects = 0
        self.sent: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.other_frames: list[Any] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the WebSocket server (idempotent). Imported lazily: only Socket Mode needs it."""
        with self._cond:
            if self._server is not None:
                return
            from websockets.sync.server import serve

            self._server = serve(
                self._serve,
                "127.0.0.1",
                0,
                process_request=self._process_request,
                ping_interval=self.ping_interval,
                ping_timeout=None,
                compression=None,
                close_timeout=1,
                logger=logging.getLogger("websockets.standin"),
            )
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="slack-standin-socket", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Close the server and every connection (code 1001), waiting for their threads."""
        with self._cond:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("socket mode server not started")
        return int(self._server.socket.getsockname()[1])

    # -- apps.connections.open --------------------------------------------------------------
    def add_app_token(self, token: str, team_id: str, app_id: str) -> None:
        with self._cond:
            self._tokens[token] = AppToken(team_id, app_id)

    def team_for_token(self, token: str | None) -> str | None:
        with self._cond:
            found = self._tokens.get(token or "")
        return found.team_id if found else None

    def connections_open(self, token: str | None) -> dict[str, Any]:
        """The `apps.connections.open` body: a one-use `ws://…/link/?ticket=…` URL."""
        with self._cond:
            app = self._tokens.get(token or "")
        if app is None:
            return {"ok": False, "error": connections_open_error(token)}
        self.start()
        ticket = secrets.token_hex(16)
        with self._cond:
            self._tickets[ticket] = app
        query = urllib.parse.urlencode({"ticket": ticket, "app_id": app.app_id})
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?{query}"}

    # -- test-facing ------------------------------------------------------------------------

    def wait_connects(self, total: int = 1, timeout: float = 30.0) -> int:
        """Wait until `total` connections have said hello since start (reconnects count)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.connects >= total, timeout):
                raise TimeoutError(f"{self.connects} Socket Mode connection(s), wanted {total}")
            return self.connects

    def send(
        self, envelope: dict[str, Any], team_id: str | None = None, timeout: float | None = None
    ) -> str:
        """Push `envelope` to the newest connection (of `team_id`); returns its envelope_id."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._matching(team_id), self.open_timeout if timeout is None else timeout
            ):
                raise TimeoutError(f"no Socket Mode connection for team {team_id or 'any'}")
            client = self._matching(team_id)[-1]
            self.sent.append(envelope)
        client.connection.send(json.dumps(envelope))
        return str(envelope.get("envelope_id", ""))

    def wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The client's `{"envelope_id": …, "payload": …}`; TimeoutError if it never acks."""
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id}")
            return self.acks[envelope_id]

    def disconnect(self, reason: str = "refresh_requested", team_id: str | None = None) -> int:
        """Ask every matching connection to go away, as Slack does before rotating it."""
        with self._cond:
            clients = self._matching(team_id)
        for client in clients:
            client.connection.send(json.dumps(disconnect_message(reason)))
        return len(clients)

    # -- server callbacks (connection threads) ----------------------------------------------
    def _matching(self, team_id: str | None) -> list[_Client]:
        return [c for c in self._clients if team_id in (None, c.team_id)]

    def _process_request(self, connection: Any, request: Any) -> Any:
        """Accept only `/link/` with an unused ticket; anything else is refused before upgrade."""
        parts = urllib.parse.urlsplit(request.path)
        ticket = dict(urllib.parse.parse_qsl(parts.query)).get("ticket", "")
        if parts.path.rstrip("/") != "/link":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        with self._cond:
            app = self._tickets.pop(ticket, None)
            if app is not None:
                self._handshakes[connection] = app
        if app is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
        return None

    def _serve(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._cond:
            app = self._handshakes.pop(connection)
            client = _Client(app.team_id, connection)
            count = len(self._matching(app.team_id)) + 1
        try:
            connection.send(json.dumps(hello_message(count, app.app_id)))
            with self._cond:
                self._clients.append(client)
                self.connects += 1
                self._cond.notify_all()
            for frame in connection:
                self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if client in self._clients:
                    self._clients.remove(client)
                self._cond.notify_all()

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            message = frame
        with self._cond:
            if isinstance(message, dict) and message.get("envelope_id"):
                self.acks[str(message["envelope_id"])] = message
            else:
                self.other_frames.append(message)
            self._cond.notify_all()
