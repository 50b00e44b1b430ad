"""`/cs-report [period]`: ack at once, then build the report off the request and DM it with
its charts (a refused chart upload still leaves the text report, with a note)."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import clock
from bot.digest.service import local_now
from bot.reports.service import PeriodError, parse_period, send_report
from bot.runtime import Runtime
from bot.slack.outbound import SlackNotifier

COMMAND = "/cs-report"


def register(app: App, rt: Runtime) -> None:
    @app.command(COMMAND)
    def cs_report(ack: Ack, body: dict, client: WebClient) -> None:
        today = local_now(None, rt.settings, clock.now()).date()
        try:
            period = parse_period(body.get("text", ""), today)
        except PeriodError as exc:
            ack(text=str(exc), response_type="ephemeral")
            return
        ack(
            text=f"Building the report for {period.label}; it arrives in our DM in a moment.",
            response_type="ephemeral",
        )
        rt.submit(
            send_report,
            rt.engine,
            SlackNotifier(client),
            body["team_id"],
            body["user_id"],
            period,
            today,
        )
