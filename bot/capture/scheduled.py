"""Periodic capture work: uploads still queued (a retry is due, or the process that accepted
them died before starting) and jobs whose worker's lease ran out."""

from __future__ import annotations

import datetime as dt
import logging

from bot.capture.extract import due_ids, process_transcript, review_posted
from bot.notify import Notifier
from bot.outbox.hooks import OutboxHooks
from bot.runtime import Runtime

log = logging.getLogger(__name__)
BATCH_PER_TICK = 5


def run_capture(
    rt: Runtime, notifier: Notifier, now: dt.datetime, limit: int = BATCH_PER_TICK
) -> int:
    """DUE_JOB: process up to `limit` claimable transcripts; returns how many were claimed."""
    handled = 0
    for transcript_id in due_ids(rt.engine, now, limit):
        outcome = process_transcript(rt, notifier, transcript_id, now)
        if outcome != "taken":
            handled += 1
            log.info("capture job %s: %s", transcript_id, outcome)
    return handled


DUE_JOBS = [("capture", run_capture)]
OUTBOX_HOOKS = {"capture_review": OutboxHooks(on_sent=review_posted)}
