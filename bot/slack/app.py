"""`create_app(settings)`: the one Bolt App behind HTTP mode, Socket Mode, tests and the demo."""

from __future__ import annotations

import logging

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.slack.client import make_client
from bot.slack.listeners import register_all
from bot.slack.listeners.base import user_facing_error, where
from bot.slack.middleware import ReadInteraction, make_dedupe_middleware

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    rt: Runtime | None = None,
    *,
    client: WebClient | None = None,
    token_verification: bool = True,
) -> App:
    """Build the Bolt app. `auth.test` runs at construction unless `token_verification` is off."""
    settings.require("slack_bot_token", "slack_signing_secret")
    rt = rt or build_runtime(settings)
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=client or make_client(settings),
        token_verification_enabled=token_verification,
        # Bolt answers when the listener returns (no 10 ms polling for ack()); our listener
        # wrapper returns at the ack and runs the handler on rt.listeners (listeners/base.py)
        process_before_response=True,
        listener_executor=rt.listeners,
        ignoring_self_events_enabled=True,
        # right after the signature check: the typed Interaction (400 for a body Slack never
        # sends) and the Runtime, for the listeners
        before_authorize=ReadInteraction(rt),
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
    return app
