import pytest
from sqlalchemy import inspect

from bot.db import engine_for
from bot.migrate import SchemaOutOfDate, check_schema, head_revision, upgrade


def test_migrated_database_passes_the_check(database_url: str) -> None:
    check_schema(database_url)
    tables = set(inspect(engine_for(database_url)).get_table_names())
    assert {
        "workspace",
        "person",
        "account",
        "contact",
        "auditevent",
        "transcript",
        "commitment",
        "playbook",
        "case",
        "casestep",
        "digestsend",
    } <= tables


def test_every_table_carries_team_id(database_url: str) -> None:
    insp = inspect(engine_for(database_url))
    for table in insp.get_table_names():
        # OAuth `state`s exist before any workspace has installed (they name no team).
        if table in ("alembic_version", "slack_oauth_states"):
            continue
        assert "team_id" in {c["name"] for c in insp.get_columns(table)}, table


def test_unmigrated_database_is_refused_with_the_fix(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SchemaOutOfDate, match="followthrough migrate"):
        check_schema(url)
    upgrade(url)
    check_schema(url)
    assert head_revision()


def test_models_match_migrations(database_url: str) -> None:
    """An autogenerate diff against a migrated database must be empty: no model change
    ships without its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import bot.models  # noqa: F401
    from bot.workspaces.installations import SLACK_TABLES

    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn),
            [SQLModel.metadata, SLACK_TABLES],  # type: ignore[arg-type]
        )
    assert diff == []
