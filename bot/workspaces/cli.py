"""`followthrough doctor`, `followthrough workspaces list` and `workspaces channel`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

workspaces_app = typer.Typer(help="The Slack workspaces this install serves.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.add_typer(workspaces_app, name="workspaces")


def doctor(
    people: Annotated[
        Path | None,
        typer.Option("--people", help="Also check that everyone in this roster CSV is in Slack"),
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="With OAuth installs: check this workspace only")
    ] = None,
) -> None:
    """Check everything a real install needs; one line per finding, each problem with its fix.

    Exit code 1 when anything needs fixing.
    """
    from bot.clikit import setup_logging
    from bot.config import load_settings, settings_errors
    from bot.workspaces.doctor import PROBLEM, run_checks

    errors = settings_errors()
    if errors:
        for line in errors:
            typer.echo(f"✗ {line.removeprefix('Configuration error: ')}")
        typer.echo("Fix the settings above (.env or the environment), then run doctor again.")
        raise typer.Exit(1)
    settings = load_settings()
    setup_logging(settings.log_level)
    problems = 0
    for finding in run_checks(settings, people, team):
        typer.echo(finding.line())
        problems += finding.kind == PROBLEM
    if problems:
        typer.echo(f"{problems} problem(s) to fix.")
        raise typer.Exit(1)
    typer.echo("Ready: `followthrough serve` (HTTP) or `followthrough socket` (Socket Mode).")


@workspaces_app.command("list")
def list_workspaces() -> None:
    """Every workspace this database knows: active or uninstalled, and what it holds."""
    from bot.clikit import checked_runtime, settings_or_exit
    from bot.db import session_scope
    from bot.lifecycle.service import count_team
    from bot.workspaces.service import workspaces

    settings = settings_or_exit()
    rt = checked_runtime(settings)
    with session_scope(rt.engine) as session:
        rows = workspaces(session)
    if not rows:
        typer.echo("No workspace yet.")
        return
    for ws in rows:
        counts = count_team(rt.engine, ws.team_id)
        held = ", ".join(f"{counts.get(t, 0)} {t}" for t in ("account", "case", "commitment"))
        if ws.active:
            state = "active"
        else:
            when = f"{ws.deactivated_at:%Y-%m-%d}" if ws.deactivated_at else "?"
            days = settings.uninstalled_retention_days
            state = f"{ws.deactivated_reason or 'inactive'} on {when}" + (
                f", deleted after {days} day(s)" if days is not None else ", data kept"
            )
        typer.echo(f"{ws.team_id:<12} {ws.name or '—':<24} {state:<40} {held}")


@workspaces_app.command("channel")
def set_channel(
    channel: Annotated[str, typer.Argument(help="Channel id (C…) for case cards; 'none' clears")],
    team: Annotated[str | None, typer.Option("--team", help="Slack team id")] = None,
) -> None:
    """This workspace's CS channel (overrides CS_CHANNEL; with OAuth each workspace has its own)."""
    import re

    from bot.clikit import checked_runtime, command_team, fail, settings_or_exit
    from bot.db import session_scope
    from bot.workspaces.service import set_cs_channel

    value = None if channel.lower() == "none" else channel.strip()
    if value is not None and not re.fullmatch(r"[CG][A-Z0-9]+", value):
        raise fail(f"'{channel}' is not a channel id like C0123ABCD (channel details → About)", 2)
    settings = settings_or_exit()
    rt = checked_runtime(settings)
    team_id, _ = command_team(settings, rt, team)
    with session_scope(rt.engine) as session:
        set_cs_channel(session, team_id, value)
    typer.echo(f"Workspace {team_id}: case cards go to {value or 'CS_CHANNEL'}.")
