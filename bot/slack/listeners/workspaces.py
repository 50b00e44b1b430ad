"""`app_uninstalled` and `tokens_revoked`: stop all work for that workspace at once.

The workspace is marked inactive (every outbound call and every scheduled job skips it from
then on) and its stored tokens are forgotten; its data is kept for export or purge, as the
retention settings say.
"""

from __future__ import annotations

from bot.slack.listeners.base import Call, Routes
from bot.workspaces.service import stop_workspace

routes = Routes()


@routes.event("app_uninstalled")
def on_uninstalled(call: Call) -> None:
    if call.team_id:
        stop_workspace(call.rt.engine, call.rt.settings, call.team_id, "app_uninstalled")


@routes.event("tokens_revoked")
def on_tokens_revoked(call: Call) -> None:
    # Only the bot token matters: the app asks for no user tokens.
    event = call.interaction.event or {}
    if call.team_id and (event.get("tokens") or {}).get("bot"):
        stop_workspace(call.rt.engine, call.rt.settings, call.team_id, "tokens_revoked")
