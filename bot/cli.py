"""The command line: `followthrough …` and `python -m bot …` are the same Typer app.

Feature modules add their own commands (see COMMAND_MODULES); this file only holds the
commands every install needs: migrate, serve, socket, worker and tick.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from bot.clikit import checked_runtime, fail, settings_or_exit, slack_or_exit
from bot.config import ConfigError, Settings

app = typer.Typer(
    help="Followthrough: commitments from customer calls and playbooks for accounts at risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES: tuple[str, ...] = (
    "bot.workspaces.cli",
    "bot.accounts.cli",
    "bot.reports.cli",
    "bot.lifecycle.cli",
    "bot.manifest",
    "bot.playbooks.cli",
    "bot.cases.cli",
    "bot.capture.cli",
    "bot.signals.cli",
    "bot.crm.cli",
)


@app.command()
def migrate(revision: str = typer.Argument("head", help="Alembic revision to upgrade to")) -> None:
    """Create or upgrade the database schema (safe to run on every deploy)."""
    from bot.db import engine_for, normalise_url
    from bot.migrate import current_revision, head_revision, upgrade

    settings = settings_or_exit()
    try:
        engine = engine_for(normalise_url(settings.database_url))
        before = current_revision(engine)
        upgrade(settings.database_url, revision)
        after = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 — unreachable database, bad URL, bad revision
        raise fail(
            f"Could not migrate the database ({type(exc).__name__}): check DATABASE_URL", 2, exc
        ) from None
    label = f"{after} (head)" if after == head_revision() else str(after)
    if before == after:
        typer.echo(f"Database is already at {label}.")
    else:
        typer.echo(f"Database upgraded from {before or 'empty'} to {label}.")


def _need_slack_settings(settings: Settings, *names: str) -> None:
    """The settings a command needs: one way to reach Slack first, then `names`."""
    try:
        if not settings.slack_connected:
            settings.require("slack_bot_token")
        settings.check_slack_mode()
        settings.require(*names)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def settle_heap() -> None:
    """What start-up built (modules, table metadata, Bolt's app, the pools) lives as long as
    the process: take it out of the garbage collector's sight, so that a full collection
    walks only what the work made. In a busy worker those collections took 114–120 ms (the
    process stands still meanwhile); with this, 11–25 ms (`bench/ack.py`, stop 22)."""
    gc.collect()
    gc.freeze()


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: PORT setting)")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "0.0.0.0",
) -> None:
    """Run the Slack app in HTTP mode: POST /slack/events, GET /healthz (and, with OAuth,
    GET /slack/install and /slack/oauth_redirect)."""
    from bot.scheduler import start_scheduler
    from bot.slack.app import create_app
    from bot.slack.outbound import SlackNotifier
    from bot.web import make_server

    settings = settings_or_exit()
    _need_slack_settings(settings, "slack_signing_secret")
    rt = checked_runtime(settings)
    clients = slack_or_exit(settings, rt)
    bolt = create_app(settings, rt, clients=clients)
    try:
        server = make_server(
            bolt,
            rt.engine,
            host=host,
            port=port or settings.port,
            threads=settings.web_threads,
            signing_secret=settings.slack_signing_secret,
            rt=rt,
            clients=clients,
        )
    except OSError as exc:
        raise fail(
            f"Cannot listen on {host}:{port or settings.port} ({exc.strerror or exc}): "
            "pass --port or set PORT",
            2,
            exc,
        ) from None
    if settings.run_scheduler:
        start_scheduler(rt, SlackNotifier(clients), blocking=False)
    where = f"http://{host}:{server.effective_port}"
    if clients.oauth:
        typer.echo(
            f"OAuth: {len(clients.teams())} workspace(s) installed; others install at "
            f"{where}/slack/install (through your public URL)"
        )
    else:
        typer.echo(f"Workspace {clients.identity.label if clients.identity else '?'}")
    typer.echo(
        f"Followthrough listening on {where}/slack/events "
        f"({server.adj.threads} at once: WEB_THREADS)"
    )
    typer.echo("Webhooks: POST /signals, /webhooks/zoom, /transcripts")
    settle_heap()
    server.run()


@app.command()
def socket() -> None:
    """Run the Slack app in Socket Mode (no public URL needed; needs SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.scheduler import start_scheduler
    from bot.slack.app import create_app
    from bot.slack.connect import SlackProblem, check_app_token, explain
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    _need_slack_settings(settings, "slack_app_token")
    if settings.oauth_enabled:
        raise fail(
            "Socket Mode serves the one workspace of SLACK_BOT_TOKEN; installs in several "
            "workspaces (SLACK_CLIENT_ID) need `followthrough serve` (HTTP).",
            2,
        )
    if not settings.slack_signing_secret:
        settings.slack_signing_secret = "unused-in-socket-mode"  # Bolt skips verification there
    rt = checked_runtime(settings)
    clients = slack_or_exit(settings, rt)
    try:
        check_app_token(settings)  # the handler would log its own error before raising
    except SlackProblem as exc:
        raise fail(str(exc), 2, exc) from None
    bolt = create_app(settings, rt, clients=clients)
    if settings.run_scheduler:
        start_scheduler(rt, SlackNotifier(clients), blocking=False)
    label = clients.identity.label if clients.identity else "?"
    typer.echo(f"Workspace {label}: connecting over Socket Mode")
    settle_heap()
    try:
        SocketModeHandler(bolt, settings.slack_app_token).start()
    except KeyboardInterrupt:
        return
    except Exception as exc:  # noqa: BLE001 — e.g. apps.connections.open refused the token
        raise fail(str(explain(exc, settings, "SLACK_APP_TOKEN", "Socket Mode")), 2, exc) from None


@app.command()
def worker() -> None:
    """Run the scheduler alone: steps, reminders, escalations, digests, transcript reading."""
    from bot.inbox.scheduled import carry_out_due
    from bot.outbox.scheduled import listen_for_kicks
    from bot.scheduler import start_scheduler
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    _need_slack_settings(settings)
    rt = checked_runtime(settings)
    clients = slack_or_exit(settings, rt)
    if settings.worker_nice:
        try:  # a backlog of sends can wait; an ack cannot (Slack gives up after 3 s)
            os.nice(settings.worker_nice)
        except OSError as exc:
            logging.getLogger("bot.cli").warning(
                "could not lower the worker's CPU priority: %s", exc.strerror or exc
            )
    typer.echo(f"Worker running run_due every {settings.scheduler_interval_seconds:g}s")
    notifier = SlackNotifier(clients)
    # PostgreSQL: web processes wake it to carry out a click and to send what it queued
    listen_for_kicks(rt, notifier, carry_out_due)
    settle_heap()
    start_scheduler(rt, notifier, blocking=True)


def parse_now(text: str) -> tuple[dt.datetime, bool]:
    """ISO-8601 → (UTC time, whether an offset was given); no offset means UTC."""
    from bot import clock

    try:
        parsed = dt.datetime.fromisoformat(text)
        return clock.as_utc(parsed), parsed.tzinfo is not None
    except ValueError:
        raise fail(
            f"--now '{text}' is not an ISO-8601 time like 2026-11-23T14:00 (UTC) or "
            "2026-11-23T09:00-05:00",
            2,
        ) from None


@app.command()
def tick(
    now: Annotated[
        str | None,
        typer.Option(
            help="Pretend it is this time: ISO-8601, UTC unless it has an offset "
            "(2026-11-23T14:00 = 09:00 in New York)"
        ),
    ] = None,
) -> None:
    """Run the scheduled work once, at `--now` (so a week of playbook plays in seconds).

    It sends what is due (step DMs, reminders, digests), so it talks to Slack like the
    worker does: SLACK_BOT_TOKEN, or OAuth installs.
    """
    from bot import clock
    from bot.scheduler import run_due
    from bot.slack.outbound import SlackNotifier

    settings = settings_or_exit()
    _need_slack_settings(settings)
    at = None
    if now:
        at, had_offset = parse_now(now)
        note = "" if had_offset else " (no offset given, so UTC)"
        typer.echo(f"Due work as of {at:%Y-%m-%d %H:%M} UTC{note}")
        clock.set_now(at)
    rt = checked_runtime(settings)
    clients = slack_or_exit(settings, rt)
    done = run_due(rt, SlackNotifier(clients), at)
    for name, count in done.items():
        typer.echo(f"{name}: {'failed (see log)' if count < 0 else count}")


_loaded = False


def _load_command_modules() -> None:
    """The product's own command modules, then any installed plugins.

    Development tools (the demo and its stand-ins) live in `bot.devtools` and join the
    command line through the `followthrough.commands` entry point, so the product never
    imports them itself.
    """
    from importlib.metadata import entry_points

    global _loaded
    if _loaded:  # once per process: `main(argv)` runs many commands in one test process
        return
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for plugin in entry_points(group="followthrough.commands"):
        plugin.load()(app)
    _loaded = True


def main(argv: Sequence[str] | None = None) -> None:
    """The console script (`argv` None: the process's own arguments); tests pass `argv` to
    run a command in-process (`bot.devtools.cli_runner`)."""
    _load_command_modules()
    try:
        app(args=None if argv is None else list(argv))
    except ConfigError as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 — one line at INFO; the trace at LOG_LEVEL=DEBUG
        logging.getLogger("bot.cli").debug("unexpected error", exc_info=exc)
        first = (str(exc).splitlines() or [""])[0][:200]
        typer.secho(
            f"Unexpected error ({type(exc).__name__}: {first}); run with LOG_LEVEL=DEBUG for "
            "the full trace",
            err=True,
            fg=typer.colors.RED,
        )
        sys.exit(1)
