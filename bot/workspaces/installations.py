"""Where OAuth installs live: slack_sdk's SQLAlchemy installation and state stores, on the
app's own database.

The tables are slack_sdk's own definitions (`build_*_table`), registered on `SLACK_TABLES` so
that our Alembic migration creates them and the drift test compares them; nothing calls
`create_tables()`. They are kept off `SQLModel.metadata` on purpose: a workspace export must
never contain its tokens (purge still deletes them, see `bot.lifecycle.service`).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Bumped whenever this process changes who may be talked to (an uninstall, a reinstall, a
# token stored or deleted): token caches (`bot.slack.client`) drop what they hold at once.
# Other processes' caches expire on their own, within seconds.
_generation = 0


def generation() -> int:
    return _generation


def changed() -> None:
    global _generation
    _generation += 1


SLACK_TABLES = sa.MetaData()
INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    SLACK_TABLES, SQLAlchemyInstallationStore.default_installations_table_name
)
BOTS = SQLAlchemyInstallationStore.build_bots_table(
    SLACK_TABLES, SQLAlchemyInstallationStore.default_bots_table_name
)
OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    SLACK_TABLES, SQLAlchemyOAuthStateStore.default_table_name
)
STATE_SECONDS = 600  # Slack's own default: a consent screen left open longer must restart


class InstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store on our engine and tables, plus lookups by team alone (the worker
    knows a row's team_id, not whether that team sits in an Enterprise Grid org)."""

    def __init__(self, client_id: str, engine: Engine) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=log)
        self.metadata, self.installations, self.bots = SLACK_TABLES, INSTALLATIONS, BOTS

    def find_team(self, team_id: str) -> Installation | None:
        """The newest installation of `team_id` (with a bot token) for this app."""
        c = self.installations.c
        query = (
            self.installations.select()
            .where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
            .order_by(sa.desc(c.installed_at))
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return self.build_installation_entity(row) if row is not None else None

    def installed_teams(self) -> list[str]:
        c = self.installations.c
        query = (
            sa.select(c.team_id)
            .where(c.client_id == self.client_id, c.bot_token.is_not(None))
            .distinct()
        )
        with self.engine.connect() as conn:
            return sorted(t for (t,) in conn.execute(query) if t)

    def save(self, installation: Installation) -> None:
        super().save(installation)
        changed()  # a new token: clients cached with the old one are dropped

    def delete_team(self, team_id: str) -> None:
        """Forget every token of `team_id` (uninstalled, revoked, or purged)."""
        changed()
        with self.engine.begin() as conn:
            for table in (self.installations, self.bots):
                conn.execute(
                    table.delete().where(
                        table.c.client_id == self.client_id, table.c.team_id == team_id
                    )
                )


class OAuthStateStore(SQLAlchemyOAuthStateStore):
    """One-use `state` values for the install flow (a replayed or forged state is refused)."""

    def __init__(self, engine: Engine, expiration_seconds: int = STATE_SECONDS) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, logger=log)
        self.metadata, self.oauth_states = SLACK_TABLES, OAUTH_STATES


def delete_team_tokens(engine: Engine, team_id: str) -> int:
    """Every stored token of a team, whichever client id installed it (used by purge)."""
    deleted = 0
    changed()
    with engine.begin() as conn:
        for table in (INSTALLATIONS, BOTS):
            deleted += conn.execute(table.delete().where(table.c.team_id == team_id)).rowcount
    return deleted
