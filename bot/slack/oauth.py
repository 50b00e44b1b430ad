"""Bolt's authorize step and OAuth install flow, on `WorkspaceClients`.

Every request is authorized from what we stored (the workspace's token, bot ids and granted
scopes), not by calling `auth.test` per request; an uninstalled or revoked workspace is not
authorized at all (Bolt then tells the person to reinstall). The install flow is Bolt's own
(`/slack/install` → Slack's consent page → `/slack/oauth_redirect`), with slack_sdk's state
and installation stores on our database; a successful install (or reinstall) records the
workspace as active.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context.context import BoltContext
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse

from bot import audit
from bot.db import session_scope
from bot.manifest import bot_scopes
from bot.notify import DeliveryError
from bot.slack.client import WorkspaceClients, identity_of
from bot.workspaces.installations import OAuthStateStore
from bot.workspaces.service import remember

log = logging.getLogger(__name__)


class WorkspaceAuthorize(Authorize):
    """Bolt `authorize`: the request's team → its grant from `WorkspaceClients`."""

    def __init__(self, clients: WorkspaceClients) -> None:
        self.clients = clients

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_: Any,
    ) -> AuthorizeResult | None:
        if not team_id:
            return None
        try:
            grant = self.clients.grant(team_id)
        except DeliveryError as exc:
            log.info("request from workspace %s not authorized: %s", team_id, exc.code)
            return None
        who = grant.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            team=who.team_name,
            bot_user_id=who.bot_user_id,
            bot_id=who.bot_id,
            bot_token=grant.token,
            bot_scopes=list(who.scopes) or None,
            user_id=user_id,
        )


def oauth_settings(clients: WorkspaceClients) -> OAuthSettings:
    """Bolt's OAuth flow: the manifest's scopes, our stores, the consent page on the host of
    SLACK_API_URL (slack.com, or the stand-in in tests)."""
    settings, engine = clients.settings, clients.engine

    def installed(args: SuccessArgs) -> BoltResponse:
        inst = args.installation
        identity = identity_of(inst)
        with session_scope(engine) as session:
            ws = remember(session, identity, actor=f"install:{inst.user_id}")
            audit.record(
                session,
                identity.team_id,
                inst.user_id or "slack",
                "workspace",
                ws.id,
                "installed",
                scopes=",".join(identity.scopes),
            )
        log.info("workspace %s installed the app", identity.label)
        return args.default.success(args)

    def refused(args: FailureArgs) -> BoltResponse:
        log.warning("an install attempt failed: %s", args.reason)
        return args.default.failure(args)

    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=bot_scopes(),
        user_scopes=[],
        installation_store=clients.store,
        state_store=OAuthStateStore(engine),
        authorization_url=settings.oauth_authorize_url,
        install_page_rendering_enabled=False,
        callback_options=CallbackOptions(success=installed, failure=refused),
        logger=log,
    )
