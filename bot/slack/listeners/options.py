"""External-select options: account search for every modal that picks an account."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.accounts.service import search_accounts
from bot.crm.service import picker_description
from bot.db import session_scope
from bot.runtime import Runtime
from bot.slack.blocks.common import option

ACCOUNT_SELECT = "account_select"


def register(app: App, rt: Runtime) -> None:
    @app.options(ACCOUNT_SELECT)
    def account_options(ack: Ack, body: dict) -> None:
        team_id = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", "")
        with session_scope(rt.engine) as session:
            accounts = search_accounts(session, team_id, body.get("value", ""), limit=100)
            options = [option(a.name, str(a.id), picker_description(session, a)) for a in accounts]
        ack(options=options)
