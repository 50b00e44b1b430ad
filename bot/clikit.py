"""What every command shares: settings or a one-line exit, logging, a checked runtime, Slack
or a one-line exit, and which workspace a command is about.

Start-up failures are one line on stderr naming the cause and the fix, with a non-zero exit
code (2); the full trace is logged only at LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from bot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.slack.client import WorkspaceClients

log = logging.getLogger("bot.cli")
NOISY = ("slack_sdk", "slack_bolt", "httpx", "httpcore", "openai", "apscheduler", "waitress")


def fail(message: str, code: int = 1, exc: BaseException | None = None) -> typer.Exit:
    if exc is not None:
        log.debug("details of: %s", message, exc_info=exc)
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def warn(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.YELLOW)


class OncePer(logging.Filter):
    """One record a `seconds` window; the next one through says how many were held back.

    For warnings an overloaded process repeats on every event — waitress's "Task queue depth
    is N" on every queued request, APScheduler's "maximum number of running instances
    reached" every interval while a long run goes on. One line a minute says it; a line per
    event costs the CPU the overload cannot spare and buries everything else in the log.
    `contains` narrows it to one message of a logger."""

    def __init__(
        self, seconds: float = 60.0, contains: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.seconds, self.contains, self.clock = seconds, contains, clock
        self._open_at = float("-inf")
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.contains and self.contains not in str(record.msg):
            return True
        now = self.clock()
        with self._lock:
            if now < self._open_at:
                self._held += 1
                return False
            held, self._held, self._open_at = self._held, 0, now + self.seconds
        if held:
            record.msg = f"{record.msg} (and {held} more like it in {self.seconds:.0f} s)"
        return True

    def shut(self) -> bool:
        """True, and counted as held back, while the window is shut: for a caller that asks
        before it makes the record (`Gated`)."""
        with self._lock:
            if self.clock() < self._open_at:
                self._held += 1
                return True
        return False


class Gated:
    """A logger whose `warning` asks the logger's own `OncePer` first, so a record it would
    drop is never made. Waitress warns on every request that finds its threads busy, which
    under load is every request, and building each LogRecord only for the filter to drop it
    was about a tenth of the web process's CPU (py-spy, bench/ack.py at c=20)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def warning(self, msg: str, *args: object, **kwargs: Any) -> None:
        gates = [f for f in self.logger.filters if isinstance(f, OncePer) and not f.contains]
        if any(gate.shut() for gate in gates):
            return
        self.logger.warning(msg, *args, **kwargs)


def _summarise_overload_warnings() -> None:
    for name, contains in (
        ("waitress.queue", ""),
        ("apscheduler.scheduler", "maximum number of running instances"),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePer) for f in logger.filters):
            logger.addFilter(OncePer(60.0, contains))


def setup_logging(level: str) -> None:
    root_level = getattr(logging, level.upper(), logging.INFO)
    _summarise_overload_warnings()
    logging.basicConfig(level=root_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # slack_sdk logs request bodies at DEBUG; keep them out unless asked for explicitly.
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # Alembic narrates every start-up check at INFO; `migrate` prints its own one line.
    logging.getLogger("alembic").setLevel(
        logging.DEBUG if root_level <= logging.DEBUG else logging.WARNING
    )


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    setup_logging(settings.log_level)
    return settings


def checked_runtime(settings: Settings) -> Runtime:
    """A runtime on an up-to-date schema, or a clear exit saying to run `migrate`."""
    from bot.migrate import SchemaOutOfDate, check_schema
    from bot.runtime import build_runtime

    try:
        check_schema(settings.database_url)
    except SchemaOutOfDate as exc:
        raise fail(str(exc), 2) from None
    except Exception as exc:  # noqa: BLE001 — e.g. database unreachable
        raise fail(
            f"Cannot reach the database ({type(exc).__name__}): check DATABASE_URL", 2, exc
        ) from None
    return build_runtime(settings)


def slack_or_exit(settings: Settings, rt: Runtime) -> WorkspaceClients:
    """This install's Slack: SLACK_BOT_TOKEN checked with `auth.test` (its workspace recorded),
    or the OAuth installation store. Any problem is one line and exit code 2."""
    from bot.manifest import bot_scopes
    from bot.slack.client import connect_workspaces
    from bot.slack.connect import SlackProblem

    try:
        clients = connect_workspaces(settings, rt.engine)
    except (ConfigError, SlackProblem) as exc:
        raise fail(str(exc), 2, exc) from None
    identity = clients.identity
    if identity is not None and identity.scopes:
        missing = [s for s in bot_scopes() if s not in identity.scopes]
        if missing:
            warn(
                f"SLACK_BOT_TOKEN lacks scope(s) {', '.join(missing)}: add them (paste the "
                "manifest from `followthrough manifest` again) and reinstall the app"
            )
    return clients


def command_team(
    settings: Settings, rt: Runtime, explicit: str | None, *, need_slack: bool = False
) -> tuple[str, WorkspaceClients | None]:
    """The workspace a command acts on, and Slack for it when there is one.

    With SLACK_BOT_TOKEN the workspace is the token's (`auth.test`); a different `--team` is
    refused. With OAuth it is an installed workspace (`--team` when there are several).
    Without Slack, `--team` is checked against what the database knows. `need_slack` commands
    (people import looks every email up) refuse to run without Slack.
    """
    from bot.db import session_scope
    from bot.workspaces.service import NoWorkspace, ensure_workspace, resolve_installed
    from bot.workspaces.service import resolve_team as resolve_offline

    if not settings.slack_connected:
        if need_slack:
            raise fail(
                "This looks every person up in Slack, and Slack is not set up: set "
                "SLACK_BOT_TOKEN (README: Connect it to Slack) and run it again; nothing was "
                "changed.",
                2,
            )
        try:
            with session_scope(rt.engine) as session:
                team_id = resolve_offline(session, explicit)
                known = ensure_workspace(session, team_id).name is not None
        except NoWorkspace as exc:
            raise fail(str(exc), 2) from None
        if not known and explicit:
            warn(
                f"Workspace {team_id} is taken on your word (no SLACK_BOT_TOKEN to ask Slack); "
                "`followthrough doctor` checks it once the token is set."
            )
        return team_id, None
    clients = slack_or_exit(settings, rt)
    identity = clients.identity
    if identity is not None:
        if explicit and explicit != identity.team_id:
            raise fail(
                f"--team {explicit} is not the workspace of SLACK_BOT_TOKEN ({identity.label}); "
                "leave --team out",
                2,
            )
        return identity.team_id, clients
    try:
        with session_scope(rt.engine) as session:
            return resolve_installed(session, explicit, clients.teams()), clients
    except NoWorkspace as exc:
        raise fail(str(exc), 2) from None
