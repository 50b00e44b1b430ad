"""`app_uninstalled` and `tokens_revoked`: stop all work for that workspace at once.

The workspace is marked inactive (every outbound call and every scheduled job skips it from
then on) and its stored tokens are forgotten; its data is kept for export or purge, as the
retention settings say.
"""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.context.context import BoltContext

from bot.runtime import Runtime
from bot.workspaces.service import stop_workspace


def register(app: App, rt: Runtime) -> None:
    @app.event("app_uninstalled")
    def on_uninstalled(body: dict, context: BoltContext) -> None:
        team_id = context.team_id or body.get("team_id")
        if team_id:
            stop_workspace(rt.engine, rt.settings, team_id, "app_uninstalled")

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, body: dict, context: BoltContext) -> None:
        # Only the bot token matters: the app asks for no user tokens.
        team_id = context.team_id or body.get("team_id")
        if team_id and (event.get("tokens") or {}).get("bot"):
            stop_workspace(rt.engine, rt.settings, team_id, "tokens_revoked")
