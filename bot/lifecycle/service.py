"""Data lifecycle: transcript-text retention, and a workspace's export and purge.

Retention (TRANSCRIPT_RETENTION_DAYS, default keep): after N days a transcript's text and
original bytes are purged; its sha256 (so a re-upload is still recognised), its metadata and
every commitment taken from it stay. Export writes one JSON-lines file per table, streaming
rows from the database in chunks; purge deletes every row of one workspace in every table,
in one transaction (all or nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.db import session_scope
from bot.playbooks.service import choices_changed

log = logging.getLogger(__name__)
PURGE_BATCH = 500
EXPORT_CHUNK = 1000


def team_tables() -> list[sa.Table]:
    """Every table, parents before children (all carry team_id)."""
    return [t for t in SQLModel.metadata.sorted_tables if "team_id" in t.c]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value


def iter_rows(engine: Engine, table: sa.Table, team_id: str) -> Iterator[dict[str, Any]]:
    """Rows of one table for one team, fetched `EXPORT_CHUNK` at a time by primary key, so a
    large workspace never sits in memory at once (works the same on SQLite and Postgres)."""
    pk = table.c.id
    last = None
    while True:
        stmt = sa.select(table).where(table.c.team_id == team_id)
        if last is not None:
            stmt = stmt.where(pk > last)
        with engine.connect() as conn:
            batch = conn.execute(stmt.order_by(pk).limit(EXPORT_CHUNK)).mappings().all()
        if not batch:
            return
        for row in batch:
            yield {k: _jsonable(v) for k, v in row.items()}
        last = batch[-1]["id"]


def export_team(engine: Engine, team_id: str, out_dir: Path) -> dict[str, int]:
    """One `<table>.jsonl` per table in `out_dir`; returns rows written per table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in team_tables():
        n = 0
        with (out_dir / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
            for row in iter_rows(engine, table, team_id):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        counts[table.name] = n
    return counts


def count_team(engine: Engine, team_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.team_id == team_id)
            ).scalar_one()
            for t in team_tables()
        }


def purge_team(engine: Engine, team_id: str) -> dict[str, int]:
    """Delete every row of `team_id` in every table, children first, in one transaction;
    then its stored Slack tokens (never exported, but gone with the workspace)."""
    from bot.workspaces.installations import delete_team_tokens

    deleted: dict[str, int] = {}
    with session_scope(engine) as session:
        for table in reversed(team_tables()):
            result = session.execute(table.delete().where(table.c.team_id == team_id))
            deleted[table.name] = result.rowcount or 0  # type: ignore[attr-defined]
        choices_changed(session, team_id)
    delete_team_tokens(engine, team_id)
    log.info("purged workspace %s: %d rows", team_id, sum(deleted.values()))
    return deleted


def uninstalled_due(engine: Engine, days: int, now: dt.datetime) -> list[str]:
    """Workspaces that uninstalled the app (or revoked its token) more than `days` ago."""
    from bot.models import Workspace

    t = Workspace.__table__  # type: ignore[attr-defined]
    cutoff = now - dt.timedelta(days=days)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.team_id).where(t.c.active.is_(False), t.c.deactivated_at < cutoff)
        )
        return [r.team_id for r in rows]
