"""The Web API client: honours SLACK_API_URL and retries 429 (Retry-After), 5xx and
connection errors, as slack_sdk's own retry handlers do; its calls reuse kept-alive
connections (`bot.slack.pooled`)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.slack.pooled import PooledWebClient


def retry_handlers(max_retries: int = 3) -> list:
    return [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    return PooledWebClient(
        token=token or settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=int(max(1, round(settings.slack_timeout_seconds))),
        retry_handlers=retry_handlers(),
    )
