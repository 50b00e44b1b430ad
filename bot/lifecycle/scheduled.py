"""Scheduled: purge transcript text past TRANSCRIPT_RETENTION_DAYS, and the whole data of a
workspace that uninstalled the app more than UNINSTALLED_RETENTION_DAYS ago."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from bot import audit
from bot.db import session_scope
from bot.lifecycle.service import PURGE_BATCH, purge_team, uninstalled_due
from bot.models import Transcript
from bot.notify import Notifier
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def run_retention(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: purge transcript text older than the retention setting (if one is set)."""
    days = rt.settings.transcript_retention_days
    if not days:
        return 0
    cutoff = now - dt.timedelta(days=days)
    t = Transcript.__table__  # type: ignore[attr-defined]
    with session_scope(rt.engine) as session:
        rows = session.execute(
            sa.select(t.c.id, t.c.team_id)
            .where(t.c.created_at < cutoff, t.c.text_purged_at.is_(None))  # ix_transcript_unpurged
            .order_by(t.c.created_at, t.c.id)
            .limit(PURGE_BATCH)
        ).all()
        if not rows:
            return 0
        session.execute(
            t.update()
            .where(t.c.id.in_([r.id for r in rows]), t.c.text_purged_at.is_(None))
            .values(text=None, content=None, text_purged_at=now)
        )
        for r in rows:
            audit.record(
                session, r.team_id, "system", "transcript", r.id, "text_purged", retention_days=days
            )
    log.info("purged the text of %d transcript(s) older than %d days", len(rows), days)
    return len(rows)


def run_uninstalled_purge(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: delete the data of workspaces gone longer than the retention setting."""
    days = rt.settings.uninstalled_retention_days
    if days is None:
        return 0
    purged = 0
    for team_id in uninstalled_due(rt.engine, days, now):
        rows = sum(purge_team(rt.engine, team_id).values())
        log.warning(
            "workspace %s uninstalled the app over %d day(s) ago: deleted its %d rows",
            team_id,
            days,
            rows,
        )
        purged += 1
    return purged


DUE_JOBS = [
    ("transcript_retention", run_retention),
    ("uninstalled_purge", run_uninstalled_purge),
]
