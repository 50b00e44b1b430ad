"""The worker's CRM jobs: the incremental sync (claimed per workspace, so two workers never
sync twice; a long first sync runs in slices) and the write-back queue. A failed write's
notice to the CSM is queued in the outbox with the failure (kind `crm_failure`)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import select

from bot.crm import service, sync, writeback
from bot.crm.connector import CrmConnector, CrmError
from bot.crm.mapping import MappingError
from bot.db import session_scope
from bot.models import CrmWrite, Workspace
from bot.notify import Notifier
from bot.runtime import Runtime

log = logging.getLogger(__name__)
SLICE_SECONDS = 20.0  # a tick spends at most about this long syncing, then the next goes on


class NotifierDirectory:
    """Slack profiles through the outbound port (CRM owners are matched by email)."""

    def __init__(self, notifier: Notifier, team_id: str) -> None:
        self.notifier, self.team_id = notifier, team_id

    def user(self, user_id: str) -> dict | None:
        return self.notifier.user(self.team_id, user_id)

    def user_by_email(self, email: str) -> dict | None:
        return self.notifier.user_by_email(self.team_id, email)


def run_crm_sync(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: sync each workspace whose sync is due; a tick with none due is one probe."""
    if rt.settings.crm_vendor.value != "none":
        with session_scope(rt.engine) as session:
            for team_id in session.exec(select(Workspace.team_id)):
                service.ensure_connection(session, team_id, rt.settings)
    done = 0
    for team_id in service.due_teams(rt.engine, now):
        report = sync.run_sync(
            rt.engine,
            rt.settings,
            team_id,
            now,
            directory=NotifierDirectory(notifier, team_id),
            budget_seconds=SLICE_SECONDS,
        )
        if report is not None:
            done += 1
            log.info("%s", report.lines()[0])
    return done


def run_crm_writes(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: make the CRM match each due write (task or note), exactly once."""
    claimed = writeback.claim_writes(rt.engine, now)
    if not claimed:
        return 0
    with session_scope(rt.engine) as session:
        rows = session.exec(
            select(CrmWrite.id, CrmWrite.team_id, CrmWrite.vendor).where(
                CrmWrite.id.in_([w for w, _ in claimed])  # type: ignore[union-attr]
            )
        ).all()
    where = {w: (team, vendor) for w, team, vendor in rows}
    connectors: dict[tuple[str, str], CrmConnector | None] = {}
    handled = 0
    try:
        for write_id, token in claimed:
            team_vendor = where.get(write_id)
            if team_vendor is None:
                continue
            if team_vendor not in connectors:
                connectors[team_vendor] = _connector(rt, *team_vendor)
            connector = connectors[team_vendor]
            if connector is None:
                outcome = writeback.release_write(rt.engine, write_id, token, now)
            else:
                outcome = writeback.send_write(
                    rt.engine, rt.settings, connector, write_id, token, now
                )
            handled += 1
            log.info("crm write %s: %s", write_id, outcome)
    finally:
        for c in connectors.values():
            if c is not None:
                c.close()
    return handled


def _connector(rt: Runtime, team_id: str, vendor: str) -> CrmConnector | None:
    try:
        with session_scope(rt.engine) as session:
            conn = service.get_connection(session, team_id)
            portal = conn.portal if conn else None
        mapping = service.mapping_for(rt.settings, vendor)
        # the queue is the retry: one quick second try in the call, then back off in the row
        return service.build_connector(
            rt.settings, vendor, mapping, portal=portal, attempts=2, backoff=0.25
        )
    except (CrmError, MappingError) as exc:
        log.warning("CRM write-back for %s cannot start: %s", team_id, str(exc).splitlines()[0])
        return None


DUE_JOBS = [("crm.sync", run_crm_sync), ("crm.writes", run_crm_writes)]
