"""`/cs-report [period]`: ack at once, then build the report off the request and DM it with
its charts (a refused chart upload still leaves the text report, with a note)."""

from __future__ import annotations

from dataclasses import replace

from bot import clock
from bot.digest.service import local_now
from bot.reports.service import PeriodError, parse_period, send_report
from bot.slack.listeners.base import Call, Routes

routes = Routes(PeriodError)
COMMAND = "/cs-report"


@routes.command(COMMAND)
def on_cs_report(call: Call) -> None:
    rt = call.rt
    today = local_now(None, rt.settings, clock.now()).date()
    period = replace(parse_period(call.interaction.text, today), tz=rt.settings.default_timezone)
    call.ack(
        text=f"Building the report for {period.label}; it arrives in our DM in a moment.",
        response_type="ephemeral",
    )
    rt.submit(send_report, rt.engine, call.notifier, call.team_id, call.user_id, period, today)
