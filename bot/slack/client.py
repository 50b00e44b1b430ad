"""Web API clients: one per workspace, each with that workspace's own bot token.

`WorkspaceClients` is the one place a token is chosen, for inbound requests (Bolt's
authorize step) and every outbound call (listeners, the background pool, the worker):

- single-workspace mode (SLACK_BOT_TOKEN): the settings token, for the team `auth.test`
  says it belongs to;
- OAuth mode (SLACK_CLIENT_ID/SECRET): the team's installation from the installation store,
  refreshed before it expires when the app uses token rotation.

A workspace that uninstalled the app or revoked its token gets a non-retryable
`DeliveryError(code="workspace_inactive")` instead of a client: nothing more is sent there.
Clients honour SLACK_API_URL and retry 429 (Retry-After), 5xx and connection errors, and
their calls reuse kept-alive connections (`bot.slack.pooled`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import Settings
from bot.db import session_scope
from bot.models import Workspace
from bot.notify import DeliveryError
from bot.slack.pooled import PooledWebClient
from bot.workspaces.installations import InstallationStore, generation
from bot.workspaces.service import Identity, is_active, remember

log = logging.getLogger(__name__)
ROTATE_MINUTES = 120  # refresh a rotating token this long before it expires (Bolt's default)
# A workspace's grant is read once per this long, not on every request: the uninstall,
# reinstall or new token that changes it here drops it at once (`installations.changed`); one
# recorded by another process is seen within this many seconds.
GRANT_SECONDS = 10.0
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}


def retry_handlers(max_retries: int = 3) -> list:
    return [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]


def timeout_of(settings: Settings) -> int:
    """SLACK_TIMEOUT_SECONDS as slack_sdk takes it (the outbox lease is sized from it)."""
    return int(max(1, round(settings.slack_timeout_seconds)))


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    return PooledWebClient(
        token=token or settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout_of(settings),
        retry_handlers=retry_handlers(),
    )


def base_client(settings: Settings) -> WebClient:
    """A client with no token (Bolt's app client; oauth.v2.access); tokens come per team."""
    return PooledWebClient(
        token=None,
        base_url=settings.slack_api_url,
        timeout=timeout_of(settings),
        retry_handlers=retry_handlers(),
    )


class WorkspaceInactive(DeliveryError):
    def __init__(self, team_id: str, why: str, code: str = "workspace_inactive") -> None:
        super().__init__(f"workspace {team_id} {why}", retryable=False, code=code)
        self.team_id = team_id


@dataclass(frozen=True)
class Grant:
    """A workspace's bot token and who it is."""

    identity: Identity
    token: str


class WorkspaceClients:
    """Per-team tokens and clients (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        identity: Identity | None = None,
        store: InstallationStore | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self._identity = identity
        self._clients: dict[str, tuple[str, WebClient]] = {}
        self._grants: dict[str, tuple[float, int, Grant]] = {}  # team → (until, generation, …)
        self.monotonic = time.monotonic  # the grants' clock (a test moves it)
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._rotator = (
            TokenRotator(
                client_id=settings.slack_client_id or "",
                client_secret=settings.slack_client_secret or "",
                client=base_client(settings),
            )
            if store is not None
            else None
        )

    @property
    def oauth(self) -> bool:
        return self.store is not None

    @property
    def identity(self) -> Identity | None:
        """Single-workspace mode: whose SLACK_BOT_TOKEN is (from start-up's auth.test)."""
        return self._identity

    def teams(self) -> list[str]:
        """The workspaces this install can talk to."""
        if self.store is not None:
            return self.store.installed_teams()
        return [self._identity.team_id] if self._identity else []

    # -- the choke point --------------------------------------------------------------------
    def grant(self, team_id: str) -> Grant:
        """The token to act in `team_id` with, or `WorkspaceInactive`: read at most once per
        GRANT_SECONDS (every request and every send asks)."""
        now, current = self.monotonic(), generation()
        held = self._grants.get(team_id)
        if held is not None and held[0] > now and held[1] == current:
            return held[2]
        found = self._read_grant(team_id)
        self._grants[team_id] = (now + GRANT_SECONDS, current, found)
        return found

    def _read_grant(self, team_id: str) -> Grant:
        with session_scope(self.engine) as session:
            if not is_active(session, team_id):
                raise WorkspaceInactive(team_id, "has uninstalled the app or revoked its token")
        if self.store is None:
            if self._identity is None or not self.settings.slack_bot_token:
                raise WorkspaceInactive(team_id, "is unknown: SLACK_BOT_TOKEN was never checked")
            if team_id != self._identity.team_id:
                raise WorkspaceInactive(
                    team_id,
                    f"is not the workspace of SLACK_BOT_TOKEN ({self._identity.team_id})",
                    code="workspace_not_installed",
                )
            return Grant(self._identity, self.settings.slack_bot_token)
        installation = self.store.find_team(team_id)
        if installation is None:
            raise WorkspaceInactive(
                team_id, "has not installed the app", code="workspace_not_installed"
            )
        if _expiring(installation, GRANT_SECONDS):
            installation = self._rotate(team_id)
        return Grant(identity_of(installation), installation.bot_token or "")

    def client(self, team_id: str) -> WebClient:
        grant = self.grant(team_id)
        with self._guard:
            cached = self._clients.get(team_id)
            if cached is None or cached[0] != grant.token:
                client = PooledWebClient(
                    token=grant.token,
                    base_url=self.settings.slack_api_url,
                    timeout=timeout_of(self.settings),
                    retry_handlers=retry_handlers(),
                )
                cached = self._clients[team_id] = (grant.token, client)
        return cached[1]

    # -- token rotation ---------------------------------------------------------------------
    def _rotate(self, team_id: str) -> Installation:
        """Refresh an expiring token once, however many threads (or, on PostgreSQL, processes)
        ask at the same time; whoever comes second finds the new token already stored."""
        assert self.store is not None and self._rotator is not None
        with self._locks[team_id], session_scope(self.engine) as session:
            if session.get_bind().dialect.name == "postgresql":
                session.exec(
                    select(Workspace.id).where(Workspace.team_id == team_id).with_for_update()
                ).first()
            current = self.store.find_team(team_id)
            if current is None:
                raise WorkspaceInactive(
                    team_id, "has not installed the app", code="workspace_not_installed"
                )
            if not _expiring(current):
                return current
            try:
                refreshed = self._rotator.perform_token_rotation(
                    installation=current, minutes_before_expiration=ROTATE_MINUTES
                )
            except SlackTokenRotationError as exc:
                latest = self.store.find_team(team_id)
                if latest is not None and latest.bot_token != current.bot_token:
                    return latest  # another process rotated it first
                code = exc.api_error.response.get("error") or "token_rotation_failed"
                log.error(
                    "could not refresh the bot token of workspace %s (%s); reinstalling the app "
                    "there fixes it",
                    team_id,
                    code,
                )
                raise DeliveryError(
                    f"token refresh failed: {code}", retryable=code in _TRANSIENT, code=code
                ) from None
            except OSError as exc:
                raise DeliveryError(
                    f"token refresh failed: {type(exc).__name__}", retryable=True
                ) from exc
            if refreshed is None:
                return current
            self.store.save(refreshed)
            log.info("refreshed the bot token of workspace %s", team_id)
            return refreshed


def _expiring(installation: Installation, within: float = 0.0) -> bool:
    """Due for a refresh now, or before a grant read now is read again (`within` s)."""
    expires = installation.bot_token_expires_at
    return bool(
        installation.bot_refresh_token
        and expires is not None
        and expires <= time.time() + ROTATE_MINUTES * 60 + within
    )


def identity_of(installation: Installation) -> Identity:
    scopes = installation.bot_scopes or []
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    return Identity(
        team_id=installation.team_id or "",
        team_name=installation.team_name,
        bot_user_id=installation.bot_user_id,
        bot_id=installation.bot_id,
        scopes=tuple(s.strip() for s in scopes if s.strip()),
    )


def connect_workspaces(settings: Settings, engine: Engine) -> WorkspaceClients:
    """The clients for this install. Single-workspace mode asks Slack who SLACK_BOT_TOKEN is
    (raising `bot.slack.connect.SlackProblem`, one line, when it cannot) and records that
    workspace; OAuth mode reads the installation store (each install records its own)."""
    from bot.playbooks.service import ensure_seeded_once
    from bot.slack.connect import identify

    settings.check_slack_mode()
    if settings.oauth_enabled:
        return WorkspaceClients(
            settings, engine, store=InstallationStore(settings.slack_client_id or "", engine)
        )
    settings.require("slack_bot_token")
    identity = identify(settings, settings.slack_bot_token or "")
    with session_scope(engine) as session:
        remember(session, identity)
    # the seed playbooks now, so the first /report-risk does not store them inside the 3 s
    # Slack gives its trigger to open the modal
    ensure_seeded_once(engine, identity.team_id)
    return WorkspaceClients(settings, engine, identity=identity)
