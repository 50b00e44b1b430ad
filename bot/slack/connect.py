"""Asking Slack who a token is (`auth.test`) and whether an app-level token works, with every
failure turned into one line that names the cause and the fix.

Used at start-up (serve, socket, worker, tick, the imports) and by `followthrough doctor`.
The probe client has a short timeout and no retries: a wrong or unreachable Slack is reported
in seconds, not after half a minute of back-off.
"""

from __future__ import annotations

import logging
import socket
import urllib.error
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.workspaces.service import Identity

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 10

_REVOKED = {"token_revoked", "token_expired", "account_inactive", "team_access_revoked"}


class SlackProblem(RuntimeError):
    """Slack refused or could not be reached; `str()` is one line with what to do."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def probe_client(settings: Settings, token: str | None = None) -> WebClient:
    """No retries, a short timeout, and slack_sdk's own error logging kept for DEBUG: the
    caller turns a failure into one line."""
    sdk_log = logging.getLogger("bot.slack.connect.sdk")
    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    sdk_log.setLevel(logging.DEBUG if debug else logging.CRITICAL)
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=PROBE_TIMEOUT,
        retry_handlers=[],
        logger=sdk_log,
    )


def explain(exc: BaseException, settings: Settings, setting: str, method: str) -> SlackProblem:
    """One line for anything a Slack call at start-up can raise."""
    log.debug("%s failed", method, exc_info=exc)
    url = settings.slack_api_url
    if isinstance(exc, SlackApiError):
        resp = exc.response
        status = getattr(resp, "status_code", 200)
        data = getattr(resp, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if code == "invalid_auth":
            fix = (
                "copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions"
                if setting == "SLACK_BOT_TOKEN"
                else "create an App-Level Token with connections:write (Basic Information → "
                "App-Level Tokens) and copy it again"
            )
            return SlackProblem(f"Slack rejected {setting} (invalid_auth): {fix}", code=code)
        if code in _REVOKED:
            return SlackProblem(
                f"{setting} no longer works ({code}): the app was uninstalled or the token was "
                "revoked; reinstall the app (OAuth & Permissions → Reinstall) and copy the new "
                "token",
                code=code,
            )
        if code == "not_allowed_token_type":
            return SlackProblem(f"{setting} is not the kind of token {method} takes", code=code)
        if status == 429:
            return SlackProblem(
                f"Slack is rate-limiting {method} (HTTP 429): wait a minute and start again",
                code="ratelimited",
            )
        if status >= 500:
            return SlackProblem(
                f"Slack answered HTTP {status} to {method} at {url}: Slack may be having trouble "
                "(status.slack.com); try again in a minute",
                code=f"http_{status}",
            )
        if code:
            return SlackProblem(f"Slack answered {code} to {method} with {setting}", code=code)
        return SlackProblem(
            f"{url} did not answer {method} like Slack's Web API (HTTP {status}, no JSON "
            "'ok'): check SLACK_API_URL",
            code="unreadable_response",
        )
    if isinstance(exc, urllib.error.URLError | OSError | HTTPException | TimeoutError):
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, socket.timeout | TimeoutError):
            reason = f"no answer in {PROBE_TIMEOUT}s"
        return SlackProblem(
            f"Cannot reach Slack at {url} ({reason}): check the network or proxy, or SLACK_API_URL",
            code="unreachable",
        )
    if isinstance(exc, ValueError):  # a body that is not JSON at all
        return SlackProblem(
            f"{url} did not answer {method} like Slack's Web API: check SLACK_API_URL",
            code="unreadable_response",
        )
    return SlackProblem(
        f"{method} failed ({type(exc).__name__}): run with LOG_LEVEL=DEBUG for details",
        code="unexpected",
    )


def identify(settings: Settings, token: str, setting: str = "SLACK_BOT_TOKEN") -> Identity:
    """`auth.test` for a bot token: whose it is and the scopes Slack granted it
    (the `x-oauth-scopes` response header)."""
    try:
        resp = probe_client(settings, token).auth_test()
    except Exception as exc:  # noqa: BLE001 — every failure becomes one line
        raise explain(exc, settings, setting, "auth.test") from None
    scopes = (resp.headers or {}).get("x-oauth-scopes") or (resp.headers or {}).get(
        "X-OAuth-Scopes", ""
    )
    if isinstance(scopes, list):
        scopes = ",".join(scopes)
    if not resp.get("bot_id"):
        raise SlackProblem(
            f"{setting} belongs to a user, not a bot: use the Bot User OAuth Token (xoxb-…)",
            code="not_a_bot",
        )
    return Identity(
        team_id=str(resp["team_id"]),
        team_name=resp.get("team"),
        bot_user_id=resp.get("user_id"),
        bot_id=resp.get("bot_id"),
        scopes=tuple(s.strip() for s in str(scopes).split(",") if s.strip()),
    )


def check_app_token(settings: Settings) -> None:
    """`apps.connections.open` with SLACK_APP_TOKEN: the call Socket Mode makes first. The URL
    it returns is left unused (Slack lets it expire)."""
    try:
        probe_client(settings, settings.slack_app_token).apps_connections_open(
            app_token=settings.slack_app_token or ""
        )
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, settings, "SLACK_APP_TOKEN", "apps.connections.open") from None
