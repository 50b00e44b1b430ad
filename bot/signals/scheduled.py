"""Scheduled signals work: re-read changed rule files, write built-in signals, evaluate new
signals, wake snoozed suggestions; and what the suggestion DMs do in the outbox.

A tick with nothing new costs a folder stat per team, two cursor reads and one index probe.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from bot.db import session_scope
from bot.notify import Notifier
from bot.outbox.hooks import OutboxHooks
from bot.runtime import Runtime
from bot.signals import builtin, service, suggestions
from bot.signals.evaluate import evaluate_new
from bot.signals.ruleset import load_rules, rules_folder
from bot.signals.store import store

log = logging.getLogger(__name__)


def reload_rules(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: a rules folder that changed is read again (errors keep the old rules)."""
    folder = rules_folder(rt.settings)
    changed = 0
    with session_scope(rt.engine) as session:
        for team_id in service.teams(session):
            changed += len(load_rules(session, team_id, folder).changed)
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
            stored += store(rt.engine, team_id, found, auth="builtin", now=now).accepted
    return stored


def evaluate(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: run new signals through the rules, for up to a second per tick."""
    done, until = 0, time.perf_counter() + 1.0
    while time.perf_counter() < until:
        n = evaluate_new(rt.engine, now)
        done += n
        if n == 0:
            break
    return done


def suggestion_moves(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """DUE_JOB: snoozes that ran out come back as a fresh DM; suggestions whose case closed
    record the outcome; a Start plan abandoned by a dead process reopens. One probe first:
    on most ticks none of them has anything to do."""
    if not suggestions.moves_due(rt.engine, now):
        return 0
    suggestions.close_finished(rt.engine)
    suggestions.release_stuck_starts(rt.engine, now)
    return suggestions.wake_snoozed(rt.engine, now)


DUE_JOBS = [
    ("signals.rules", reload_rules),
    ("signals.builtin", write_builtin),
    ("signals.evaluate", evaluate),
    ("signals.suggestions", suggestion_moves),
]

# The CSM's DM and its edits go through the outbox, rendered from the suggestion when sent.
OUTBOX_HOOKS = {
    suggestions.DM_KIND: OutboxHooks(
        render=suggestions.render_dm,
        on_sent=suggestions.dm_landed,
        on_failed=suggestions.dm_refused,
    ),
    suggestions.DM_UPDATE_KIND: OutboxHooks(render=suggestions.render_update),
}
