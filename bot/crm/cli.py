"""`followthrough crm sync|status|check|writes|push|retry`: the CRM connection by hand."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from bot.clikit import checked_runtime, fail, settings_or_exit

TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Slack team id (default: the only one)")
]
crm_app = typer.Typer(
    help="The CRM (HubSpot or Salesforce): sync accounts, contacts and owners; write back.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(crm_app, name="crm")


def _team(rt, team: str | None) -> str:
    from bot.db import session_scope
    from bot.workspaces.service import NoWorkspace, ensure_workspace, resolve_team

    try:
        with session_scope(rt.engine) as session:
            team_id = resolve_team(session, team)
            ensure_workspace(session, team_id)
            return team_id
    except NoWorkspace as exc:
        raise fail(str(exc), 2) from None


def _directory(settings):
    if not settings.slack_bot_token:
        return None
    from bot.slack.client import make_client
    from bot.slack.directory import SlackDirectory

    return SlackDirectory(make_client(settings))


def _needs_vendor(settings) -> None:
    if settings.crm_vendor.value == "none":
        raise fail("Configuration error: CRM_VENDOR is not set (hubspot or salesforce)", 2)


@crm_app.command("sync")
def sync(
    full: Annotated[
        bool, typer.Option("--full", help="Read everything again, not just changes")
    ] = False,
    team: TeamOpt = None,
) -> None:
    """Sync accounts, contacts and owners from the CRM now (first run: everything)."""
    from bot import clock
    from bot.crm import sync

    settings = settings_or_exit()
    _needs_vendor(settings)
    rt = checked_runtime(settings)
    team_id = _team(rt, team)
    shown = {"at": 0.0}

    def progress(what: str, count: int) -> None:
        if time.monotonic() - shown["at"] >= 2.0:
            shown["at"] = time.monotonic()
            typer.echo(f"  … {count:,} {what} so far", err=True)

    report = sync.run_sync(
        rt.engine,
        settings,
        team_id,
        clock.now(),
        directory=_directory(settings),
        full=full,
        force=True,
        progress=progress,
    )
    if report is None:
        raise fail("Another worker is syncing this workspace right now; try again shortly.", 1)
    for line in report.lines():
        typer.echo(line)
    if report.error:
        raise typer.Exit(1)


@crm_app.command("status")
def status(team: TeamOpt = None) -> None:
    """Connection health: last sync, errors, writes waiting."""
    from bot.crm import service
    from bot.db import session_scope

    rt = checked_runtime(settings_or_exit())
    team_id = _team(rt, team)
    with session_scope(rt.engine) as session:
        h = service.health(session, team_id)
        conn = service.get_connection(session, team_id)
    if h is None or conn is None:
        typer.echo(
            "No CRM connected (set CRM_VENDOR and its token, then `followthrough crm sync`)."
        )
        return
    last = h.last_success_at.isoformat(timespec="minutes") if h.last_success_at else "never"
    typer.echo(f"{h.label}: {h.status}; last good sync {last}; {h.warnings} warnings")
    if h.last_error:
        typer.echo(f"  last error: {h.last_error.splitlines()[0]}")
    typer.echo(f"  writes waiting: {h.writes_waiting}; failed (CSM told): {h.writes_failed}")
    for w in conn.warnings[:20]:
        typer.echo(f"  warning: {w}")


@crm_app.command("check")
def check() -> None:
    """Validate the mapping file and the CRM's fields (line-precise), without syncing."""
    from bot.crm import service, sync
    from bot.crm.mapping import MappingError

    settings = settings_or_exit()
    _needs_vendor(settings)
    vendor = settings.crm_vendor.value
    try:
        mapping = service.mapping_for(settings, vendor)
    except MappingError as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(1) from None
    from bot.crm.connector import CrmError

    try:
        connector = service.build_connector(settings, vendor, mapping)
        problems = connector.check()
        connector.close()
    except CrmError as exc:
        raise fail(f"Cannot reach {vendor}: {exc}", 1) from None
    for text in problems:
        typer.echo(sync.locate_finding(mapping, vendor, text))
    typer.echo(f"{mapping.source}: {'ok' if not problems else f'{len(problems)} warnings'}")


@crm_app.command("writes")
def writes(team: TeamOpt = None) -> None:
    """The write-back queue: each task or note, its state and CRM id."""
    from bot.crm import writeback
    from bot.db import session_scope

    rt = checked_runtime(settings_or_exit())
    team_id = _team(rt, team)
    with session_scope(rt.engine) as session:
        for w in writeback.write_rows(session, team_id):
            error = f" — {w.last_error.splitlines()[0][:80]}" if w.last_error else ""
            typer.echo(
                f"{w.id:>5}  {w.key:<24} {w.kind:<5} {w.desired:<8} {w.status:<8} "
                f"{w.external_id or '—'}{error}"
            )


@crm_app.command("push")
def push() -> None:
    """Send the due CRM writes now (the worker does this every tick)."""
    from bot import clock
    from bot.crm.scheduled import run_crm_writes
    from bot.slack.client import make_client
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    try:
        settings.require("slack_bot_token")
    except Exception as exc:  # noqa: BLE001
        raise fail(str(exc), 2) from None
    rt = checked_runtime(settings)
    count = run_crm_writes(rt, SlackNotifier(make_client(settings)), clock.now())
    typer.echo(f"{count} CRM writes handled")


@crm_app.command("retry")
def retry(team: TeamOpt = None) -> None:
    """Queue failed CRM writes again (after fixing what the CRM refused)."""
    from bot import clock
    from bot.crm import writeback
    from bot.db import session_scope

    rt = checked_runtime(settings_or_exit())
    team_id = _team(rt, team)
    with session_scope(rt.engine) as session:
        n = writeback.retry_failed(session, team_id, clock.now())
    typer.echo(f"{n} failed writes queued again")
