"""`Notifier` over the Slack Web API. Errors become `DeliveryError`s that say whether a later
retry can help (429, 5xx, timeouts) or not (channel_not_found, user_disabled …), and whether
Slack may have acted anyway (`uncertain`: no answer, or a 5xx).

Posts that carry outbox metadata go through a client with no automatic retries: a retried
post after a dropped connection is exactly how a message gets sent twice. The outbox retries
those itself, after looking in the channel's history (`find_posted`).

Every call is made with the workspace's own client, from `WorkspaceClients` (which refuses a
workspace that uninstalled the app: `DeliveryError(code="workspace_inactive")`). A listener
may hand in the request's own client instead; it already carries that workspace's token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.notify import METADATA_EVENT, DeliveryError, Posted
from bot.slack.client import WorkspaceClients, WorkspaceInactive
from bot.slack.pooled import pooled
from bot.workspaces.service import stop_workspace

log = logging.getLogger(__name__)
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "user_not_found",
    "user_disabled",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "invalid_arguments",
    "message_not_found",
    "cant_update_message",
    "file_not_found",
    "users_not_found",
    "restricted_action",
    "missing_scope",
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
}
GONE = {"token_revoked", "account_inactive"}  # the workspace's token is dead for good


class FileTooLarge(DeliveryError):
    pass


HISTORY_PAGES = 5  # reconciliation looks at most this many pages (200 messages each) back


def _retry_after(exc: SlackApiError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class SlackNotifier:
    def __init__(self, clients: WorkspaceClients | WebClient) -> None:
        self._clients = clients
        self._once: dict[str, WebClient] = {}
        self._dm_channels: dict[tuple[str, str], str] = {}

    def client(self, team_id: str) -> WebClient:
        """The workspace's client (raises `DeliveryError` for a workspace that is gone)."""
        if isinstance(self._clients, WebClient):
            return self._clients
        return self._clients.client(team_id)

    def once(self, team_id: str) -> WebClient:
        """The workspace's token and server without automatic retries (module docstring)."""
        client = self.client(team_id)
        key = client.token or ""
        if key not in self._once:
            # slack_sdk's default retries a dropped connection
            self._once[key] = pooled(client, retry_handlers=[])
        return self._once[key]

    def _call(
        self,
        what: str,
        team_id: str,
        fn: Callable[[WebClient], Any],
        client: WebClient | None = None,
    ) -> Any:
        client = client or self.client(team_id)
        try:
            return fn(client)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", 200)
            body = getattr(exc.response, "data", None)
            code = body.get("error") if isinstance(body, dict) else None
            code = code or (f"http_{status}" if status != 200 else "unreadable_response")
            retryable = code not in PERMANENT  # 429, 5xx, timeouts: later may work
            log.warning("Slack %s failed: %s (HTTP %s)", what, code, status)
            if code in GONE and isinstance(self._clients, WorkspaceClients):
                # Revoked under us (the tokens_revoked event may still be on its way): stop
                # all work for the workspace now rather than fail every job one by one.
                stop_workspace(self._clients.engine, self._clients.settings, team_id, code)
                raise WorkspaceInactive(team_id, f"answered {code}") from exc
            raise DeliveryError(
                f"Slack said {code} to {what}",
                retryable=retryable,
                code=code,
                uncertain=status >= 500,
                retry_after=_retry_after(exc) if status == 429 else None,
            ) from exc
        except (OSError, TimeoutError) as exc:
            log.warning("Slack %s failed: %s", what, type(exc).__name__)
            raise DeliveryError(
                f"Slack unreachable for {what}", retryable=True, uncertain=True
            ) from exc

    def dm_channel(self, team_id: str, user_id: str) -> str:
        key = (team_id, user_id)
        if key not in self._dm_channels:
            resp = self._call(
                "conversations.open", team_id, lambda c: c.conversations_open(users=user_id)
            )
            self._dm_channels[key] = resp["channel"]["id"]
        return self._dm_channels[key]

    def open_dm(self, team_id: str, user_id: str) -> str:
        return self.dm_channel(team_id, user_id)

    def dm(
        self,
        team_id: str,
        user_id: str,
        text: str,
        blocks: list[dict] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        return self.post(
            team_id, self.dm_channel(team_id, user_id), text, blocks, metadata=metadata
        )

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        resp = self._call(
            "chat.postMessage",
            team_id,
            lambda c: c.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                metadata=metadata,
            ),
            client=self.once(team_id) if metadata else None,
        )
        return Posted(channel=resp["channel"], ts=resp["ts"])

    def delete(self, team_id: str, channel: str, ts: str) -> None:
        self._call("chat.delete", team_id, lambda c: c.chat_delete(channel=channel, ts=ts))

    def find_posted(self, team_id: str, channel: str, key: str, oldest: float) -> list[Posted]:
        found: list[Posted] = []
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):

            def page(client: WebClient, c: str | None = cursor) -> Any:
                return client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=c,
                )

            resp = self._call("conversations.history", team_id, page)
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                    found.append(Posted(channel=channel, ts=str(msg["ts"])))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or not cursor:
                break
        return sorted(found, key=lambda p: float(p.ts))

    def update(
        self, team_id: str, channel: str, ts: str, text: str, blocks: list[dict] | None = None
    ) -> None:
        self._call(
            "chat.update",
            team_id,
            lambda c: c.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or []),
        )

    def ephemeral(
        self, team_id: str, channel: str, user_id: str, text: str, blocks: list[dict] | None = None
    ) -> None:
        self._call(
            "chat.postEphemeral",
            team_id,
            lambda c: c.chat_postEphemeral(channel=channel, user=user_id, text=text, blocks=blocks),
        )

    def upload(
        self,
        team_id: str,
        channel: str,
        filename: str,
        content: bytes,
        title: str,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self._call(
            "files.upload",
            team_id,
            lambda c: c.files_upload_v2(
                channel=channel,
                filename=filename,
                content=content,
                title=title,
                initial_comment=comment,
                thread_ts=thread_ts,
            ),
        )

    def user(self, team_id: str, user_id: str) -> dict | None:
        try:
            return self.client(team_id).users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                return None
            raise

    def user_by_email(self, team_id: str, email: str) -> dict | None:
        try:
            return self.client(team_id).users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise

    def permalink(self, team_id: str, channel: str, ts: str) -> str | None:
        resp = self._call(
            "chat.getPermalink",
            team_id,
            lambda c: c.chat_getPermalink(channel=channel, message_ts=ts),
        )
        return resp.get("permalink")

    def download(self, team_id: str, file_id: str, max_bytes: int) -> tuple[dict, bytes]:
        """files.info, then the private URL with the bot token; refuses files over max_bytes
        before downloading them and treats Slack's HTML login page as a failure."""
        client = self.client(team_id)
        info = self._call("files.info", team_id, lambda c: c.files_info(file=file_id))["file"]
        size = int(info.get("size") or 0)
        if size > max_bytes:
            raise FileTooLarge(f"{size} bytes", retryable=False, code="too_large")
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            raise DeliveryError("Slack gave no download URL", retryable=False, code="no_url")
        headers = {"Authorization": f"Bearer {client.token}"}
        try:
            with httpx.Client(timeout=30, follow_redirects=True) as http:
                with http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code >= 500 or resp.status_code == 429:
                        raise DeliveryError(f"download HTTP {resp.status_code}", retryable=True)
                    if resp.status_code != 200:
                        raise DeliveryError(f"download HTTP {resp.status_code}", retryable=False)
                    if "text/html" in resp.headers.get("content-type", "") and not info.get(
                        "mimetype", ""
                    ).startswith("text/html"):
                        raise DeliveryError(
                            "Slack answered with a login page (missing files:read?)",
                            retryable=False,
                            code="auth_page",
                        )
                    chunks, total = [], 0
                    for chunk in resp.iter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise FileTooLarge(
                                f"over {max_bytes} bytes", retryable=False, code="too_large"
                            )
                        chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"download failed: {type(exc).__name__}", retryable=True) from exc
        return info, b"".join(chunks)
