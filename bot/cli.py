"""The command line: `followthrough …` and `python -m bot …` are the same Typer app.

Feature modules add their own commands (see COMMAND_MODULES); this file only holds the
commands every install needs: migrate, serve, socket, worker, tick, accounts and contacts.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="Followthrough: commitments from customer calls and playbooks for accounts at risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
accounts_app = typer.Typer(help="Import and list accounts.", no_args_is_help=True)
contacts_app = typer.Typer(help="Import customer contacts.", no_args_is_help=True)
people_app = typer.Typer(
    help="Import your team's roster (roles, managers, admins).", no_args_is_help=True
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(contacts_app, name="contacts")
app.add_typer(people_app, name="people")

COMMAND_MODULES: tuple[str, ...] = (
    "bot.reports.cli",
    "bot.lifecycle.cli",
    "bot.manifest",
    "bot.playbooks.cli",
    "bot.cases.cli",
    "bot.capture.cli",
)

TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Slack team id (default: the only one)")
]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # slack_sdk logs request bodies at DEBUG; keep them out unless asked for explicitly.
    for noisy in (
        "slack_sdk",
        "slack_bolt",
        "httpx",
        "httpcore",
        "openai",
        "apscheduler",
        "waitress",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    setup_logging(settings.log_level)
    return settings


def checked_runtime(settings: Settings):  # type: ignore[no-untyped-def]
    """A runtime on an up-to-date schema, or a clear exit saying to run `migrate`."""
    from bot.migrate import SchemaOutOfDate, check_schema
    from bot.runtime import build_runtime

    try:
        check_schema(settings.database_url)
    except SchemaOutOfDate as exc:
        raise fail(str(exc), 2) from None
    except Exception as exc:  # noqa: BLE001 — e.g. database unreachable
        raise fail(
            f"Cannot reach the database ({type(exc).__name__}): check DATABASE_URL", 2
        ) from None
    return build_runtime(settings)


def remember_workspace(rt, client) -> str:  # type: ignore[no-untyped-def]
    """auth.test once at start-up: learn our team and bot user and keep them in the database."""
    from bot.db import session_scope
    from bot.workspaces.service import ensure_workspace

    info = client.auth_test()
    with session_scope(rt.engine) as session:
        ensure_workspace(session, info["team_id"], info.get("team"), info.get("user_id"))
    return info["team_id"]


@app.command()
def migrate(revision: str = typer.Argument("head", help="Alembic revision to upgrade to")) -> None:
    """Create or upgrade the database schema (safe to run on every deploy)."""
    from bot.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    typer.echo(f"Database is at {revision}.")


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: PORT setting)")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "0.0.0.0",
) -> None:
    """Run the Slack app in HTTP mode: POST /slack/events, GET /healthz."""
    from bot.scheduler import start_scheduler
    from bot.slack.app import create_app
    from bot.slack.outbound import SlackNotifier
    from bot.web import make_server

    settings = settings_or_exit()
    try:
        settings.require("slack_bot_token", "slack_signing_secret")
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    rt = checked_runtime(settings)
    bolt = create_app(settings, rt)
    remember_workspace(rt, bolt.client)
    if settings.run_scheduler:
        start_scheduler(rt, SlackNotifier(bolt.client), blocking=False)
    server = make_server(bolt, rt.engine, host=host, port=port or settings.port)
    typer.echo(f"Followthrough listening on http://{host}:{server.effective_port}/slack/events")
    server.run()


@app.command()
def socket() -> None:
    """Run the Slack app in Socket Mode (no public URL needed; needs SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.scheduler import start_scheduler
    from bot.slack.app import create_app
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    try:
        settings.require("slack_bot_token", "slack_app_token")
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if not settings.slack_signing_secret:
        settings.slack_signing_secret = "unused-in-socket-mode"  # Bolt skips verification there
    rt = checked_runtime(settings)
    bolt = create_app(settings, rt)
    remember_workspace(rt, bolt.client)
    if settings.run_scheduler:
        start_scheduler(rt, SlackNotifier(bolt.client), blocking=False)
    SocketModeHandler(bolt, settings.slack_app_token).start()


@app.command()
def worker() -> None:
    """Run the scheduler alone: steps, reminders, escalations, digests, transcript reading."""
    from bot.scheduler import start_scheduler
    from bot.slack.client import make_client
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    try:
        settings.require("slack_bot_token")
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    rt = checked_runtime(settings)
    client = make_client(settings)
    remember_workspace(rt, client)
    typer.echo(f"Worker running run_due every {settings.scheduler_interval_seconds:g}s")
    start_scheduler(rt, SlackNotifier(client), blocking=True)


@app.command()
def tick(
    now: Annotated[str | None, typer.Option(help="Pretend it is this time (ISO-8601)")] = None,
) -> None:
    """Run the scheduled work once, at `--now` (so a week of playbook plays in seconds)."""
    from bot import clock
    from bot.scheduler import run_due
    from bot.slack.client import make_client
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    try:
        settings.require("slack_bot_token")
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    at = None
    if now:
        try:
            at = clock.as_utc(dt.datetime.fromisoformat(now))
        except ValueError:
            raise fail(f"--now '{now}' is not an ISO-8601 time like 2026-11-23T09:00", 2) from None
        clock.set_now(at)
    rt = checked_runtime(settings)
    done = run_due(rt, SlackNotifier(make_client(settings)), at)
    for name, count in done.items():
        typer.echo(f"{name}: {'failed (see log)' if count < 0 else count}")


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


def _load_command_modules() -> None:
    """The product's own command modules, then any installed plugins.

    Development tools (the demo and its stand-ins) live in `bot.devtools` and join the
    command line through the `followthrough.commands` entry point, so the product never
    imports them itself.
    """
    from importlib.metadata import entry_points

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for plugin in entry_points(group="followthrough.commands"):
        plugin.load()(app)


def main() -> None:
    _load_command_modules()
    try:
        app()
    except ConfigError as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        sys.exit(2)
