"""An in-memory `Notifier` for unit tests of domain services: it keeps channels and messages
(with their metadata) the way Slack would, so the outbox's look-before-posting works against
it, and it can be told to fail like Slack fails.

Slack-level tests use the HTTP stand-in (`bot.devtools.standin`) instead; this double is for
the services below the Slack layer, where a whole Web API server would only add noise.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.notify import DeliveryError, Posted


class Killed(BaseException):
    """Raised by a `crash_after_post` fault: the process "dies" right after Slack accepted
    the message (BaseException, so nothing in the app catches it)."""


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    thread_ts: str | None = None
    deleted: bool = False
    edits: list[str] = field(default_factory=list)
    via: str = "post"  # "dm" when sent with dm()


class MemorySlack:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []
        self.accepted_posts = 0
        self._seq = itertools.count(1)
        self._faults: list[tuple[str, Callable[[], None], int]] = []  # (op, action, times)
        self.offline: DeliveryError | None = None

    # -- fault injection ---------------------------------------------------------------------
    def fail(self, op: str, error: DeliveryError | BaseException, times: int = 1) -> None:
        """The next `times` calls of `op` ("post", "update", "history") raise `error`."""

        def raise_it() -> None:
            raise error

        self._faults.append((op, raise_it, times))

    def go_offline(self, error: DeliveryError) -> None:
        """Every call from now on raises `error` (a Slack that cannot be reached)."""
        self.offline = error

    def crash_after_post(self, times: int = 1) -> None:
        """The next post lands in Slack, then the caller is killed before it hears back."""
        self._faults.append(("post_after", lambda: (_ for _ in ()).throw(Killed()), times))

    def _fault(self, op: str) -> Callable[[], None] | None:
        if self.offline is not None:
            error = self.offline

            def raise_it() -> None:
                raise error

            return raise_it
        with self.lock:
            for i, (name, action, times) in enumerate(self._faults):
                if name == op:
                    if times <= 1:
                        del self._faults[i]
                    else:
                        self._faults[i] = (name, action, times - 1)
                    return action
        return None

    # -- the Notifier port --------------------------------------------------------------------
    def open_dm(self, team_id: str, user_id: str) -> str:
        fault = self._fault("open_dm")
        if fault:
            fault()
        return f"D{user_id}"

    def dm(
        self,
        team_id: str,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        posted = self.post(team_id, self.open_dm(team_id, user_id), text, blocks, metadata=metadata)
        with self.lock:
            self._find(posted.channel, posted.ts).via = "dm"  # type: ignore[union-attr]
        return posted

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        before = self._fault("post")
        if before:
            before()
        with self.lock:
            ts = f"{time.time():.0f}.{next(self._seq):06d}"
            self.messages.append(Message(channel, ts, text, blocks, metadata, thread_ts))
            self.accepted_posts += 1
        after = self._fault("post_after")
        if after:
            after()
        return Posted(channel, ts)

    def update(
        self,
        team_id: str,
        channel: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        fault = self._fault("update")
        if fault:
            fault()
        with self.lock:
            msg = self._find(channel, ts)
            if msg is None:
                raise DeliveryError("message_not_found", retryable=False, code="message_not_found")
            msg.edits.append(text)
            msg.text, msg.blocks = text, blocks

    def delete(self, team_id: str, channel: str, ts: str) -> None:
        with self.lock:
            msg = self._find(channel, ts)
            if msg is not None:
                msg.deleted = True

    def find_posted(self, team_id: str, channel: str, key: str, oldest: float) -> list[Posted]:
        fault = self._fault("history")
        if fault:
            fault()
        with self.lock:
            return [
                Posted(m.channel, m.ts)
                for m in self.messages
                if m.channel == channel
                and not m.deleted
                and float(m.ts) >= oldest
                and ((m.metadata or {}).get("event_payload") or {}).get("key") == key
            ]

    def _find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    # -- what tests read ---------------------------------------------------------------------
    def live(self, channel: str | None = None) -> list[Message]:
        with self.lock:
            return [
                m
                for m in self.messages
                if not m.deleted and (channel is None or m.channel == channel)
            ]

    def by_key(self, key: str) -> list[Message]:
        return [
            m
            for m in self.live()
            if ((m.metadata or {}).get("event_payload") or {}).get("key") == key
        ]

    def ephemeral(self, *args: Any, **kwargs: Any) -> None:
        return None

    def upload(self, *args: Any, **kwargs: Any) -> None:
        return None

    def user(self, team_id: str, user_id: str) -> dict[str, Any] | None:
        return {"id": user_id, "name": user_id.lower(), "tz": "America/New_York"}

    def user_by_email(self, team_id: str, email: str) -> dict[str, Any] | None:
        return None

    def permalink(self, team_id: str, channel: str, ts: str) -> str | None:
        return f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def download(self, team_id: str, file_id: str, max_bytes: int) -> tuple[dict[str, Any], bytes]:
        raise DeliveryError("no files here", retryable=False, code="file_not_found")
