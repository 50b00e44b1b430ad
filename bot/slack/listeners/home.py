"""App Home: `app_home_opened` (Home tab) → build the person's view → `views.publish`."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.listeners.digest import refresh_home


def register(app: App, rt: Runtime) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        refresh_home(rt, client, body.get("team_id", ""), event["user"])
