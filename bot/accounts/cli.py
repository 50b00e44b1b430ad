"""`followthrough accounts import|list`, `contacts import`, `people import`: the book of
business and the team roster from CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.clikit import checked_runtime, fail, settings_or_exit

TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Slack team id (default: the only one)")
]
accounts_app = typer.Typer(help="Import and list accounts.", no_args_is_help=True)
contacts_app = typer.Typer(help="Import customer contacts.", no_args_is_help=True)
people_app = typer.Typer(
    help="Import your team's roster (roles, managers, admins).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(contacts_app, name="contacts")
    app.add_typer(people_app, name="people")


def _import(kind: str, file: Path, team: str | None) -> None:
    from bot.accounts import service as accounts
    from bot.db import session_scope
    from bot.workspaces.service import NoWorkspace, ensure_workspace, resolve_team

    settings = settings_or_exit()
    rt = checked_runtime(settings)
    if not file.exists():
        raise fail(f"{file}: no such file", 2)
    directory = None
    if settings.slack_bot_token:
        from bot.slack.client import make_client
        from bot.slack.directory import SlackDirectory

        directory = SlackDirectory(make_client(settings))
    try:
        with session_scope(rt.engine) as session:
            team_id = resolve_team(session, team)
            ensure_workspace(session, team_id)
            data = file.read_bytes()
            if kind == "accounts":
                report = accounts.import_accounts(session, team_id, data, directory)
            elif kind == "people":
                report = accounts.import_people(session, team_id, data, directory)
            else:
                report = accounts.import_contacts(session, team_id, data)
    except (NoWorkspace, accounts.ImportError_) as exc:
        raise fail(f"{file}: {exc}", 2) from None
    for line in report.lines():
        typer.echo(line)
    if report.skipped:
        raise typer.Exit(1)


@accounts_app.command("import")
def accounts_import(file: Path, team: TeamOpt = None) -> None:
    """Import accounts from CSV (name, domain, crm_id, csm_email, ae_email, arr, renewal_date,
    tier, slack_channel, notes); upserts by CRM id or domain and reports skipped rows."""
    _import("accounts", file, team)


@accounts_app.command("list")
def accounts_list(
    query: str = typer.Argument("", help="Name or domain contains"), team: TeamOpt = None
) -> None:
    """List accounts, optionally filtered."""
    from bot.accounts.service import search_accounts
    from bot.db import session_scope
    from bot.workspaces.service import NoWorkspace, resolve_team

    rt = checked_runtime(settings_or_exit())
    try:
        with session_scope(rt.engine) as session:
            team_id = resolve_team(session, team)
            for a in search_accounts(session, team_id, query, limit=1000):
                renewal = a.renewal_date.isoformat() if a.renewal_date else "—"
                typer.echo(f"{a.id:>5}  {a.name:<30} {a.domain or '—':<24} renewal {renewal}")
    except NoWorkspace as exc:
        raise fail(str(exc), 2) from None


@contacts_app.command("import")
def contacts_import(file: Path, team: TeamOpt = None) -> None:
    """Import contacts from CSV (account, name, email, title, role)."""
    _import("contacts", file, team)


@people_app.command("import")
def people_import(file: Path, team: TeamOpt = None) -> None:
    """Import the CS team roster from CSV (email, role, manager_email, admin)."""
    _import("people", file, team)
