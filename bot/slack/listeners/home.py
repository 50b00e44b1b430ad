"""App Home: `app_home_opened` (Home tab) → build the person's view → `views.publish`."""

from __future__ import annotations

from slack_sdk import WebClient

from bot import clock
from bot.home.service import home_for
from bot.runtime import Runtime
from bot.slack.listeners.base import Call, Routes

routes = Routes()


def publish_home(rt: Runtime, client: WebClient, team_id: str, user_id: str) -> None:
    view = home_for(rt.engine, rt.settings, team_id, user_id, clock.now())
    client.views_publish(user_id=user_id, view=view)


@routes.event("app_home_opened")
def on_home_opened(call: Call) -> None:
    event = call.interaction.event or {}
    if event.get("tab", "home") != "home" or not call.user_id:
        return
    publish_home(call.rt, call.client, call.team_id, call.user_id)
