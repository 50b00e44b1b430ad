"""`create_app(settings)`: the one Bolt App behind HTTP mode, Socket Mode, tests and the demo."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.slack.client import make_client
from bot.slack.listeners import register_all
from bot.slack.middleware import make_dedupe_middleware

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
        # Listeners ack fast and hand slow work to rt.background / the worker, but give the
        # pool head-room so a burst of clicks never starves the next ack (Bolt's default is 5).
        listener_executor=ThreadPoolExecutor(max_workers=24, thread_name_prefix="ft-listener"),
        ignoring_self_events_enabled=True,
    )
    app.use(make_dedupe_middleware(rt))
    register_all(app, rt)

    @app.error
    def on_error(error: Exception, body: dict) -> None:
        log.error("listener failed for %s: %s", body.get("type"), error, exc_info=error)

    app._ft_runtime = rt  # type: ignore[attr-defined]  # for entry points that need it back
    return app
