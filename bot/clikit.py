"""What every command shares: settings or a one-line exit, logging, a checked runtime."""

from __future__ import annotations

import logging

import typer

from bot.config import ConfigError, Settings, load_settings


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
    """auth.test once at start-up: learn our team and bot user and keep them in the database.

    The seed playbooks are loaded here too, so the first `/report-risk` does not parse and
    store them inside the 3 seconds Slack gives its trigger to open the modal."""
    from bot.db import session_scope
    from bot.playbooks.service import ensure_seeded_once
    from bot.workspaces.service import ensure_workspace

    info = client.auth_test()
    with session_scope(rt.engine) as session:
        ensure_workspace(session, info["team_id"], info.get("team"), info.get("user_id"))
    ensure_seeded_once(rt.engine, info["team_id"])
    return info["team_id"]
