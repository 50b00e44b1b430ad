"""Scheduled signals work: re-read changed rule files, write built-in signals, evaluate new
signals, and deliver the suggestion DMs (new ones, refreshed ones, snoozes that ran out).

A tick with nothing new costs a folder stat per team, two cursor reads and one index probe.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from bot.db import session_scope
from bot.notify import DeliveryError, Notifier
from bot.runtime import Runtime
from bot.signals import builtin, service
from bot.signals.blocks import suggestion_message

log = logging.getLogger(__name__)


def reload_rules(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: a rules folder that changed is read again (errors keep the old rules)."""
    folder = service.rules_folder(rt.settings)
    changed = 0
    with session_scope(rt.engine) as session:
        for team_id in service.teams(session):
            changed += len(service.load_rules(session, team_id, folder).changed)
    return changed


def write_builtin(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: CRM changes since the cursor, and the once-a-day scans."""
    stored = 0
    with session_scope(rt.engine) as session:
        teams = service.teams(session)
    for team_id in teams:
        with session_scope(rt.engine) as session:
            found = builtin.crm_changes(session, team_id, now)
            found += builtin.daily(session, team_id, now) or []
        if found:
            stored += service.store(rt.engine, team_id, found, auth="builtin", now=now).accepted
    return stored


def evaluate(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: run new signals through the rules, for up to a second per tick."""
    done, until = 0, time.perf_counter() + 1.0
    while time.perf_counter() < until:
        n = service.evaluate_new(rt.engine, now)
        done += n
        if n == 0:
            break
    return done


def _send(rt: Runtime, notifier: Notifier, suggestion_id: int, now: dt.datetime) -> bool:
    """The one place a suggestion DM is sent (the outbox will replace this function)."""
    team_id, user, view = service.dm_target(rt.engine, suggestion_id, now)
    if not user:
        service.dm_sent(rt.engine, suggestion_id, None, None, "failed", error="no CSM or CS admin")
        return False
    text, blocks = suggestion_message(view)
    try:
        posted = notifier.dm(team_id, user, text, blocks)
    except DeliveryError as exc:
        log.warning("suggestion %s DM not delivered: %s", suggestion_id, exc.code)
        status = "pending" if exc.retryable else "failed"
        service.dm_sent(rt.engine, suggestion_id, None, None, status, now, error=exc.code)
        return False
    service.dm_sent(rt.engine, suggestion_id, posted.channel, posted.ts)
    return True


def refresh(rt: Runtime, notifier: Notifier, suggestion_id: int) -> None:
    """Show the suggestion as it stands now in its DM (chat.update: safe to repeat)."""
    team_id, channel, ts, view = service.dm_place(rt.engine, suggestion_id)
    if not channel or not ts:
        return
    text, blocks = suggestion_message(view)
    try:
        notifier.update(team_id, channel, ts, text, blocks)
    except DeliveryError as exc:
        log.warning("suggestion %s DM not updated: %s", suggestion_id, exc.code)


def send_dms(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: DMs due now, then DMs with new evidence or a closed case to show."""
    service.close_finished(rt.engine)
    service.release_stuck_starts(rt.engine, now)
    sent = sum(_send(rt, notifier, sid, now) for sid in service.claim_dms(rt.engine, now))
    for sid in service.claim_refreshes(rt.engine):
        refresh(rt, notifier, sid)
    return sent


DUE_JOBS = [
    ("signals.rules", reload_rules),
    ("signals.builtin", write_builtin),
    ("signals.evaluate", evaluate),
    ("signals.dms", send_dms),
]
