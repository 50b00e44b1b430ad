"""The outbound port: how domain services talk to people, without knowing about Slack.

The Slack layer implements it (`bot.slack.outbound.SlackNotifier`); failures surface as
`DeliveryError` with `retryable` telling the caller whether to try again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


class DeliveryError(RuntimeError):
    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class Notifier(Protocol):
    def dm(
        self, team_id: str, user_id: str, text: str, blocks: list[dict] | None = None
    ) -> Posted: ...

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
    ) -> Posted: ...

    def update(
        self, team_id: str, channel: str, ts: str, text: str, blocks: list[dict] | None = None
    ) -> None: ...

    def ephemeral(
        self, team_id: str, channel: str, user_id: str, text: str, blocks: list[dict] | None = None
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

    def user(self, team_id: str, user_id: str) -> dict | None: ...

    def user_by_email(self, team_id: str, email: str) -> dict | None: ...

    def permalink(self, team_id: str, channel: str, ts: str) -> str | None: ...

    def download(self, team_id: str, file_id: str, max_bytes: int) -> tuple[dict, bytes]: ...
