"""A transcript sent with /report-risk: read by the capture pipeline before the plan is drafted.

The file becomes an ordinary capture job (one Transcript row per Slack file, the review of
its commitments threaded under a "Reading…" DM to the reporter) and is linked to the
reported account. The report waits a short, bounded while for it so its lines are quoted in
the drafts; if reading takes longer the case is made anyway and its card says the call is
still being read. A file that cannot be read never stops the case: the card and the capture
thread both say why, and the upload stays on record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import col, select

from bot.capture import ingest
from bot.db import session_scope
from bot.models import AuditEvent, Transcript, TranscriptStatus
from bot.notify import DeliveryError, Notifier
from bot.runtime import Runtime

log = logging.getLogger(__name__)

ATTACH_WAIT_SECONDS = 20.0  # how long a report waits for its transcript before drafting


@dataclass(frozen=True)
class Attachment:
    """What became of the file sent with a report (stored on the case, shown on its card)."""

    transcript_id: int
    filename: str
    status: str  # read | reading | failed
    reason: str | None = None
    context_transcript_id: int | None = None  # the row quoted (an earlier read of a duplicate)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def file_ref(files: Any) -> ingest.FileRef | None:
    """The first file of a `file_input` state (`files` list of Slack file objects), if any."""
    for f in files or []:
        ref = ingest.file_ref(f)
        if ref is not None:
            return ref
    return None


def reading_text(filename: str, account_name: str | None) -> str:
    about = f" on {account_name}" if account_name else ""
    return (
        f"Reading {filename or 'your transcript'} for your risk report{about}… its lines "
        "go into the plan's context, and its commitments come here for review."
    )


def read_for_case(
    rt: Runtime, notifier: Notifier, team_id: str, transcript_id: int, account_id: int, actor: str
) -> str:
    """Background: the capture job, then the call pointed at the reported account (the
    reporter said which account it is about; the capture guess may differ or be unsure)."""
    from bot.capture.extract import process_transcript
    from bot.capture.review import ReviewError, set_account

    outcome = process_transcript(rt, notifier, transcript_id)
    if outcome != "review":
        return outcome
    try:
        linked = set_account(rt.engine, rt.settings, team_id, actor, transcript_id, account_id)
    except ReviewError as exc:
        log.warning("transcript %s not linked to account %s: %s", transcript_id, account_id, exc)
        return outcome
    for part in linked.refresh:
        try:
            notifier.update(team_id, part.channel, part.ts, part.text, part.blocks)
        except DeliveryError as exc:
            log.warning("review of transcript %s not refreshed: %s", transcript_id, exc.code)
    return outcome


def attach(
    rt: Runtime,
    notifier: Notifier,
    team_id: str,
    reporter: str | None,
    account_id: int,
    ref: ingest.FileRef,
    then: Callable[[Attachment], None],
    *,
    account_name: str | None = None,
    wait_seconds: float | None = None,
) -> None:
    """Record the file once, read it on the background pool, and call `then(attachment)`
    exactly once: when the reading ends, or after `wait_seconds`, whichever comes first.

    Nothing blocks a worker while waiting (a timer, not a held future), so several reports
    at once cannot starve the pool that reads their files."""
    wait = ATTACH_WAIT_SECONDS if wait_seconds is None else wait_seconds
    posted = None
    if reporter and not ingest.known_file(rt.engine, team_id, ref.file_id):  # not twice
        try:
            posted = notifier.dm(team_id, reporter, reading_text(ref.name, account_name))
        except DeliveryError as exc:  # the review then waits in the row; the card still says
            log.warning("reading note for %s not sent: %s", ref.file_id, exc.code)
    accepted = ingest.accept_upload(
        rt.engine,
        team_id,
        ref,
        channel_id=posted.channel if posted else None,
        user_id=reporter,
        thread_ts=posted.ts if posted else None,
    )
    tid = accepted.transcript_id
    claimed = threading.Lock()

    def proceed() -> None:
        if claimed.acquire(blocking=False):
            then(attachment_state(rt.engine, team_id, tid))

    if not accepted.new:  # Slack sent this file before: its job is (or was) running already
        proceed()
        return

    def timed_out() -> None:
        log.info("transcript %s still being read; the case is made without it", tid)
        try:
            rt.submit(proceed)
        except RuntimeError:  # shutting down: the row stays queued for the worker
            log.warning("report waiting on transcript %s dropped at shutdown", tid)

    timer = threading.Timer(wait, timed_out)
    timer.daemon = True

    def read() -> None:
        try:
            read_for_case(rt, notifier, team_id, tid, account_id, reporter or "system")
        finally:
            timer.cancel()
            proceed()

    timer.start()
    rt.submit(read)


def attachment_state(engine: Any, team_id: str, transcript_id: int) -> Attachment:
    """The attachment as its Transcript row (the capture job) says it is now."""
    with session_scope(engine) as session:
        row = session.exec(
            select(Transcript).where(Transcript.team_id == team_id, Transcript.id == transcript_id)
        ).first()
        if row is None:
            return Attachment(transcript_id, "", "failed", "The file is no longer on record.")
        name = row.filename
        if row.status == TranscriptStatus.REVIEW and row.text:
            return Attachment(transcript_id, name, "read", context_transcript_id=transcript_id)
        if row.status in (TranscriptStatus.QUEUED, TranscriptStatus.PROCESSING):
            return Attachment(transcript_id, name, "reading")
        earlier = _same_file_as(session, team_id, transcript_id)
        if earlier is not None:
            return Attachment(transcript_id, name, "read", row.error, earlier)
        return Attachment(transcript_id, name, "failed", row.error or "It could not be read.")


def _same_file_as(session: Any, team_id: str, transcript_id: int) -> int | None:
    """The earlier, read transcript with the same bytes (capture's `duplicate` audit row)."""
    event = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.team_id == team_id,
            AuditEvent.entity == "transcript",
            AuditEvent.entity_id == transcript_id,
            AuditEvent.action == "duplicate",
        )
        .order_by(col(AuditEvent.id).desc())
    ).first()
    earlier = (event.detail or {}).get("same_as") if event else None
    if not isinstance(earlier, int):
        return None
    read = session.exec(
        select(Transcript.id).where(
            Transcript.team_id == team_id,
            Transcript.id == earlier,
            col(Transcript.text).is_not(None),
        )
    ).first()
    return read
