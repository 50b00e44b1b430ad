"""`SocketModeDriver`: every request `SlackDriver` can build, delivered as a Socket Mode envelope.

Only the transport differs from HTTP: the body the HTTP driver would POST becomes an envelope
(`envelope_for_request`), goes down the stand-in's WebSocket, and the app's ack is the response
(`status` 200 and the ack payload as JSON; `status` 0 with a problem when no ack came). So command
acks, view_submission response_actions and event retries are applied exactly as over HTTP.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .driver import DriverResponse, SlackDriver
from .server import SlackStandin
from .socket_mode import envelope_for_request


class SocketModeDriver(SlackDriver):
    def __init__(
        self,
        team_id: str,
        standin: SlackStandin,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        api_app_id: str | None = None,
        ack_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            "",
            team_id,
            standin,
            None,
            user_id=user_id,
            channel_id=channel_id,
            api_app_id=api_app_id,
        )
        self.ack_timeout = ack_timeout

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        sign: bool = True,
        signature: str | None = None,
        timestamp_offset: int = 0,
        headers: dict[str, str] | None = None,
        trigger_id: str | None = None,
    ) -> DriverResponse:
        """Send as an envelope and wait for its ack (signing does not exist in Socket Mode)."""
        envelope = envelope_for_request(body, content_type, headers)
        if trigger_id is not None:
            self.standin.trigger_sent(trigger_id)
        start = time.perf_counter()
        envelope_id = self.standin.socket_send(envelope, self.team_id, self.ack_timeout)
        ids = {"x-envelope-id": envelope_id}
        try:
            ack = self.standin.socket_wait_ack(envelope_id, self.ack_timeout)
        except TimeoutError:
            return DriverResponse(
                0,
                "",
                None,
                time.perf_counter() - start,
                ids,
                body,
                problems=[f"no ack within {self.ack_timeout:g}s"],
            )
        payload: Any = ack.get("payload")
        text = json.dumps(payload) if payload else ""
        return DriverResponse(200, text, payload, time.perf_counter() - start, ids, body)
