"""The last routes: a click, form, shortcut or search no listener claimed (a control from an
older version of the app, or one that was never ours) is acknowledged and answered, never
left to Bolt's silent 404 (which Slack shows as "didn't respond" after 3 s).

Attached after every listener module by `register_all`, whatever `LISTENER_MODULES` says.
Commands and events are not caught: Slack only sends the ones the app's manifest declares.
"""

from __future__ import annotations

import logging
import re

from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput

log = logging.getLogger(__name__)
routes = Routes()
ANY = re.compile("")
UNKNOWN = "That control is from an older version of this message, so nothing changed."


@routes.action(ANY)
@routes.shortcut(ANY)
def on_unknown_click(call: Call) -> None:
    i = call.interaction
    log.info("no listener for %s %s (team %s)", i.kind, i.route or "?", i.team_id or "?")
    raise BadInput(UNKNOWN)


@routes.view(ANY)
def on_unknown_view(call: Call) -> None:
    i = call.interaction
    log.info("no listener for view %s (team %s)", i.route or "?", i.team_id or "?")
    call.ack(response_action="clear")  # close the form: nothing it says can be saved
    call.tell_in_thread("That form is from an older version of the app; nothing was saved.")


@routes.options(ANY)
def on_unknown_options(call: Call) -> None:
    call.ack(options=[])
