"""External-select options: account search for every modal that picks an account."""

from __future__ import annotations

from bot.accounts.service import account_options
from bot.slack.blocks.common import option
from bot.slack.listeners.base import Call, Routes

routes = Routes()
ACCOUNT_SELECT = "account_select"


@routes.options(ACCOUNT_SELECT)
def on_account_options(call: Call) -> None:
    found = account_options(call.rt.engine, call.team_id, call.interaction.text[:200])
    call.ack(options=[option(name, str(ident), domain) for ident, name, domain in found])
