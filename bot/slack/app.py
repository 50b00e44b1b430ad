"""`create_app(settings)`: the one Bolt App behind HTTP mode, Socket Mode, tests and the demo.

Tokens never come from Bolt's own settings: `WorkspaceClients` authorizes each request with
the workspace's token (single-workspace mode or OAuth installs, see `bot.slack.client`); in
OAuth mode Bolt also serves `/slack/install` and `/slack/oauth_redirect`.
"""

from __future__ import annotations

import logging

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.slack.client import WorkspaceClients, base_client, connect_workspaces
from bot.slack.listeners import register_all
from bot.slack.listeners.base import user_facing_error, where
from bot.slack.middleware import ReadInteraction, make_dedupe_middleware
from bot.slack.oauth import WorkspaceAuthorize, oauth_settings

log = logging.getLogger(__name__)


class _ExpectedBoltNotices(logging.Filter):
    """Bolt warns that an ambient SLACK_BOT_TOKEN is unused because we hand it a client and
    an authorize step: that is the design here, not news for every start."""

    QUIET = ("will be unused", "will be ignored")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(q in record.getMessage() for q in self.QUIET)


logging.getLogger("slack_bolt.App").addFilter(_ExpectedBoltNotices())


def create_app(
    settings: Settings,
    rt: Runtime | None = None,
    *,
    clients: WorkspaceClients | None = None,
    client: WebClient | None = None,
) -> App:
    """Build the Bolt app. Without `clients`, single-workspace mode asks Slack (`auth.test`)
    who SLACK_BOT_TOKEN is, here, as Bolt would at construction."""
    settings.require("slack_signing_secret")
    rt = rt or build_runtime(settings)
    clients = clients or connect_workspaces(settings, rt.engine)
    extra: dict = {"oauth_settings": oauth_settings(clients)} if clients.oauth else {}
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=client or base_client(settings),
        # An `Authorize` instance is accepted as is (Bolt's hint only names functions).
        authorize=WorkspaceAuthorize(clients),  # type: ignore[arg-type]
        # Bolt answers when the listener returns (no 10 ms polling for ack()); our listener
        # wrapper returns at the ack and runs the handler on rt.listeners (listeners/base.py)
        process_before_response=True,
        listener_executor=rt.listeners,
        ignoring_self_events_enabled=True,
        # right after the signature check: the typed Interaction (400 for a body Slack never
        # sends) and the Runtime, for the listeners
        before_authorize=ReadInteraction(rt),
        **extra,
    )
    app.use(make_dedupe_middleware(rt))
    register_all(app, rt)

    @app.error
    def on_error(error: Exception, body: dict, respond: Respond | None = None) -> None:
        """What the listeners' own wrapper did not catch (middleware, Bolt itself): logged
        in one line (the traceback at DEBUG), and the person is told."""
        kind = body.get("type") or body.get("command") or "request"
        log.error("request %s failed: %s at %s", kind, type(error).__name__, where(error))
        log.debug("traceback of the failure above", exc_info=error)
        if respond is not None and body.get("response_url"):
            try:
                respond(
                    text=user_facing_error(error), response_type="ephemeral", replace_original=False
                )
            except Exception as exc:  # noqa: BLE001 — Slack itself may be what is failing
                log.warning("could not tell the user about the failure: %s", type(exc).__name__)

    app._ft_runtime = rt  # type: ignore[attr-defined]  # for entry points that need it back
    app._ft_clients = clients  # type: ignore[attr-defined]
    return app
