"""`followthrough report [--since --until --csv FILE]`: the same numbers as `/cs-report`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD")] = None,
        until: Annotated[
            str | None, typer.Option(help="Last day, YYYY-MM-DD (default today)")
        ] = None,
        csv: Annotated[Path | None, typer.Option("--csv", help="Write the case log here")] = None,
        team: Annotated[str | None, typer.Option("--team", help="Slack team id")] = None,
    ) -> None:
        """Cases by risk and playbook, resolution and churn, steps that save accounts, and
        commitments kept — for a period (default: the last 30 days)."""
        from bot import clock
        from bot.clikit import checked_runtime, command_team, fail, settings_or_exit
        from bot.db import session_scope
        from bot.digest.service import local_now
        from bot.reports.csv_export import write_cases
        from bot.reports.metrics import Period, summary_lines
        from bot.reports.service import build_report, iter_case_rows

        settings = settings_or_exit()
        rt = checked_runtime(settings)
        today = local_now(None, settings, clock.now()).date()  # the team's today, not UTC's
        try:
            end = dt.date.fromisoformat(until) if until else today
            start = dt.date.fromisoformat(since) if since else end - dt.timedelta(days=29)
        except ValueError:
            raise fail("--since/--until must be dates like 2026-01-31", 2) from None
        if end < start:
            raise fail("--until is before --since", 2)
        period = Period(start, end, rt.settings.default_timezone)
        team_id, _ = command_team(settings, rt, team)
        for line in summary_lines(build_report(rt.engine, team_id, period, today)):
            typer.echo(line)
        if csv is not None:
            with (
                csv.open("w", newline="", encoding="utf-8") as out,
                session_scope(rt.engine) as session,
            ):
                n = write_cases(iter_case_rows(session, team_id, period), out)
            typer.echo(f"Wrote {n} case(s) to {csv}")
