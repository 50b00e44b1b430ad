"""Alembic, driven from code: `followthrough migrate` and the start-up schema check."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.db import MIGRATIONS_DIR, engine_for, normalise_url


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code; the message says which command fixes it."""


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = normalise_url(database_url)
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(database_url: str) -> None:
    """Refuse to run on a database that `followthrough migrate` has not brought up to date."""
    engine = engine_for(normalise_url(database_url))
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at {current}, code needs {head}"
        raise SchemaOutOfDate(
            f"Database schema is out of date ({state}). Run `followthrough migrate` first."
        )
