"""The outbound port: how domain services talk to people, without knowing about Slack.

The Slack layer implements it (`bot.slack.outbound.SlackNotifier`); failures surface as
`DeliveryError`. `retryable` says whether a later try can help; `uncertain` says the far side
may have acted although we saw no answer (a timeout, a dropped connection, a 5xx), so the
caller must look before it tries again (`find_posted`) instead of repeating the post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Slack message metadata marking every message the outbox sends: `event_payload.key` is the
# outbox row's idempotency key, so a message posted by a worker that died before recording
# it can be found again in the channel's history and adopted instead of posted twice.
METADATA_EVENT = "followthrough_outbound"


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


class DeliveryError(RuntimeError):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        uncertain: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.uncertain = uncertain
        self.retry_after = retry_after


class Notifier(Protocol):
    def dm(
        self,
        team_id: str,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted: ...

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted: ...

    def update(
        self,
        team_id: str,
        channel: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None: ...

    def delete(self, team_id: str, channel: str, ts: str) -> None: ...

    def open_dm(self, team_id: str, user_id: str) -> str:
        """The DM channel id with this user (opened if need be)."""
        ...

    def find_posted(self, team_id: str, channel: str, key: str, oldest: float) -> list[Posted]:
        """Our messages in `channel` since `oldest` (Unix seconds) whose metadata carries
        outbox `key`, oldest first."""
        ...

    def ephemeral(
        self,
        team_id: str,
        channel: str,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None: ...

    def upload(
        self,
        team_id: str,
        channel: str,
        filename: str,
        content: bytes,
        title: str,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None: ...

    def user(self, team_id: str, user_id: str) -> dict[str, Any] | None: ...

    def user_by_email(self, team_id: str, email: str) -> dict[str, Any] | None: ...

    def permalink(self, team_id: str, channel: str, ts: str) -> str | None: ...

    def download(
        self, team_id: str, file_id: str, max_bytes: int
    ) -> tuple[dict[str, Any], bytes]: ...
