"""The command line: `followthrough …` and `python -m bot …` are the same Typer app.

Feature modules add their own commands (see COMMAND_MODULES); this file only holds the
commands every install needs: migrate, serve, socket, worker, tick, accounts and contacts.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from typing import Annotated

import typer

from bot.clikit import checked_runtime, fail, remember_workspace, settings_or_exit
from bot.config import ConfigError

app = typer.Typer(
    help="Followthrough: commitments from customer calls and playbooks for accounts at risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES: tuple[str, ...] = (
    "bot.accounts.cli",
    "bot.reports.cli",
    "bot.lifecycle.cli",
    "bot.manifest",
    "bot.playbooks.cli",
    "bot.cases.cli",
    "bot.capture.cli",
    "bot.crm.cli",
)


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
    server = make_server(
        bolt,
        rt.engine,
        host=host,
        port=port or settings.port,
        signing_secret=settings.slack_signing_secret,
    )
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
    from bot.outbox.scheduled import listen_for_kicks
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
    notifier = SlackNotifier(client)
    listen_for_kicks(rt, notifier)  # PostgreSQL: web processes wake it to send a click's messages
    start_scheduler(rt, notifier, blocking=True)


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
