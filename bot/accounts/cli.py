"""`followthrough accounts import|list`, `contacts import`, `people import`: the book of
business and the team roster from CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.clikit import checked_runtime, command_team, fail, settings_or_exit

TeamOpt = Annotated[
    str | None,
    typer.Option(
        "--team",
        help="Slack team id: only without SLACK_BOT_TOKEN (whose workspace is read from "
        "Slack) or with several OAuth installs",
    ),
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
    from slack_sdk.errors import SlackApiError

    from bot.accounts import service as accounts
    from bot.db import session_scope
    from bot.notify import DeliveryError
    from bot.slack.directory import SlackDirectory
    from bot.workspaces.service import ensure_workspace

    settings = settings_or_exit()
    if not file.exists():
        raise fail(f"{file}: no such file", 2)
    rt = checked_runtime(settings)
    team_id, clients = command_team(settings, rt, team, need_slack=kind == "people")
    directory = None
    if clients is not None:
        try:
            directory = SlackDirectory(clients.client(team_id))
        except DeliveryError as exc:
            raise fail(f"Workspace {team_id}: {exc}", 2) from None
    data = file.read_bytes()
    try:
        with session_scope(rt.engine) as session:
            ensure_workspace(session, team_id)
            if kind == "accounts":
                report = accounts.import_accounts(session, team_id, data, directory)
            elif kind == "people":
                report = accounts.import_people(session, team_id, data, directory)
            else:
                report = accounts.import_contacts(session, team_id, data)
    except accounts.ImportError_ as exc:
        raise fail(f"{file}: {exc}", 2) from None
    except (SlackApiError, OSError) as exc:
        from bot.slack.connect import explain

        why = explain(exc, settings, "the bot token", "users.lookupByEmail")
        raise fail(f"{file}: nothing was imported — {why}", 2, exc) from None
    typer.echo(f"Workspace {team_id}:")
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

    settings = settings_or_exit()
    rt = checked_runtime(settings)
    team_id, _ = command_team(settings, rt, team)
    with session_scope(rt.engine) as session:
        for a in search_accounts(session, team_id, query, limit=1000):
            renewal = a.renewal_date.isoformat() if a.renewal_date else "—"
            typer.echo(f"{a.id:>5}  {a.name:<30} {a.domain or '—':<24} renewal {renewal}")


@contacts_app.command("import")
def contacts_import(file: Path, team: TeamOpt = None) -> None:
    """Import contacts from CSV (account, name, email, title, role)."""
    _import("contacts", file, team)


@people_app.command("import")
def people_import(file: Path, team: TeamOpt = None) -> None:
    """Import the CS team roster from CSV (email, role, manager_email, admin)."""
    _import("people", file, team)
