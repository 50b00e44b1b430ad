"""Storing an upload: one durable Transcript row per (team, Slack file id), then its bytes.

The row is created before anything slow happens, with a placeholder hash naming the Slack
file (`slack-file:F…`). The unique key (team_id, sha256) therefore makes Slack's duplicate
deliveries (`file_shared` + `message/file_share`, retries, a second shortcut) find the row
instead of starting a second extraction. Once the bytes are downloaded the real SHA-256
replaces the placeholder — unless another row already holds that hash: then this upload is
the same file read before, and the uploader is pointed at that earlier review.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import audit, clock
from bot.db import session_scope
from bot.models import Transcript, TranscriptStatus
from bot.slack import payload
from bot.states import Machine, move
from bot.transcripts import sha256_hex

log = logging.getLogger(__name__)

PLACEHOLDER_PREFIX = "slack-file:"
TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".txt", ".text", ".json", ".docx", ".sbv", ".md")

TRANSCRIPT = Machine(
    "transcript",
    Transcript.__table__,  # type: ignore[attr-defined]
    {
        "claim": {
            TranscriptStatus.QUEUED: TranscriptStatus.PROCESSING,
            TranscriptStatus.PROCESSING: TranscriptStatus.PROCESSING,
        },  # PROCESSING: lease over
        "requeue": {TranscriptStatus.PROCESSING: TranscriptStatus.QUEUED},
        "fail": {TranscriptStatus.PROCESSING: TranscriptStatus.FAILED},
        "review": {TranscriptStatus.PROCESSING: TranscriptStatus.REVIEW},
    },
)


@dataclass(frozen=True)
class FileRef:
    """What an event or shortcut told us about a file (files.info stays the authority)."""

    file_id: str
    name: str = ""
    mimetype: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Accepted:
    """The job row for an upload; `new` is False when Slack told us about it before."""

    transcript_id: int
    new: bool
    status: str
    filename: str
    channel_id: str | None
    thread_ts: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class SeenBefore:
    """The same bytes were uploaded earlier: where that earlier review lives."""

    transcript_id: int
    filename: str
    status: str
    created_at: dt.datetime
    channel_id: str | None
    thread_ts: str | None
    error: str | None


def placeholder_hash(file_id: str) -> str:
    return f"{PLACEHOLDER_PREFIX}{file_id}"[:64]


def looks_like_transcript(ref: FileRef, *, direct_message: bool) -> bool:
    """In a DM with the app every file is meant for us; in a channel only transcript files.

    Judged by name and type only: the content decides later, so a picture named .vtt still
    gets a clear answer instead of silence.
    """
    if direct_message:
        return True
    name = (ref.name or "").lower()
    return name.endswith(TRANSCRIPT_SUFFIXES) or (ref.mimetype or "") in {"text/vtt", "text/srt"}


def file_ref(f: object) -> FileRef | None:
    """A Slack file object as capture keeps it; None unless its id looks like Slack's (a
    forged id never reaches a query), with its name and type cleaned and its size only when
    it is a whole number."""
    if not isinstance(f, Mapping) or not payload.slack_id_ok(f.get("id")):
        return None
    if f.get("mode") == "tombstone":
        return None
    try:
        size: int | None = payload.parse_int(f.get("size"), low=0, high=2**53)
    except payload.BadInput:
        size = None
    mimetype = f.get("mimetype")
    return FileRef(
        str(f["id"]),
        payload.clean_text(str(f.get("name") or f.get("title") or ""), 255),
        payload.clean_text(mimetype, 255) if isinstance(mimetype, str) else None,
        size,
    )


def files_of(message: Mapping[str, Any]) -> list[FileRef]:
    """The files a message carries (current `files[]`, or the singular `file` of old ones)."""
    raw = message.get("files")
    if not isinstance(raw, list) or not raw:
        raw = [message["file"]] if isinstance(message.get("file"), Mapping) else []
    return [ref for ref in map(file_ref, raw) if ref is not None]


def _accepted(row: Transcript, new: bool) -> Accepted:
    return Accepted(
        row.id or 0,
        new,
        row.status,
        row.filename,
        row.channel_id,
        row.thread_ts,
        clock.as_utc(row.created_at),
    )


def _by_file(session: Session, team_id: str, file_id: str) -> Transcript | None:
    return session.exec(
        select(Transcript).where(Transcript.team_id == team_id, Transcript.slack_file_id == file_id)
    ).first()


def accept_upload(
    engine: Engine,
    team_id: str,
    ref: FileRef,
    *,
    channel_id: str | None,
    user_id: str | None,
    thread_ts: str | None,
) -> Accepted:
    """The job row for this Slack file, created once; later calls return the same row."""
    with session_scope(engine) as session:
        existing = _by_file(session, team_id, ref.file_id)
        if existing is not None:
            return _accepted(existing, new=False)
    try:
        with session_scope(engine) as session:
            row = Transcript(
                team_id=team_id,
                sha256=placeholder_hash(ref.file_id),
                slack_file_id=ref.file_id,
                filename=(ref.name or ref.file_id)[:255],
                size_bytes=ref.size or 0,
                uploader_user_id=user_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                status=TranscriptStatus.QUEUED,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                team_id,
                user_id or "system",
                "transcript",
                row.id,
                "uploaded",
                to_state=TranscriptStatus.QUEUED,
                file_id=ref.file_id,
                filename=row.filename,
            )
            return _accepted(row, new=True)
    except IntegrityError:  # a concurrent delivery of the same file won the insert
        with session_scope(engine) as session:
            existing = _by_file(session, team_id, ref.file_id)
            if existing is None:
                raise
            return _accepted(existing, new=False)


def set_thread(
    engine: Engine, team_id: str, transcript_id: int, channel_id: str, thread_ts: str
) -> None:
    """Remember where the conversation about this upload happens (the "Reading…" thread)."""
    with session_scope(engine) as session:
        row = session.get(Transcript, transcript_id)
        if row is not None and row.team_id == team_id and not row.thread_ts:
            row.channel_id, row.thread_ts = channel_id, thread_ts
            session.add(row)


def store_content(
    engine: Engine,
    transcript_id: int,
    attempt: int,
    data: bytes,
    info: dict | None = None,
) -> SeenBefore | None:
    """Keep the downloaded bytes and their hash; None, or the earlier row with the same bytes.

    Only the worker holding claim `attempt` may write. A duplicate keeps its placeholder hash
    and ends `failed` with the reason, so the upload is still on record.
    """
    digest = sha256_hex(data)
    with session_scope(engine) as session:
        row = session.get(Transcript, transcript_id)
        if row is None or row.attempts != attempt or row.status != TranscriptStatus.PROCESSING:
            raise LookupError("claim lost")
        earlier = session.exec(
            select(Transcript).where(
                Transcript.team_id == row.team_id,
                Transcript.sha256 == digest,
                Transcript.id != transcript_id,
            )
        ).first()
        if earlier is not None:
            seen = SeenBefore(
                earlier.id or 0,
                earlier.filename,
                earlier.status,
                clock.as_utc(earlier.created_at),
                earlier.channel_id,
                earlier.thread_ts,
                earlier.error,
            )
            move(
                session,
                TRANSCRIPT,
                row,
                "fail",
                lease_until=None,
                error=f"Same file as transcript #{earlier.id}, read before.",
                size_bytes=len(data),
                processed_at=clock.now(),
            )
            audit.record(
                session,
                row.team_id,
                "system",
                "transcript",
                row.id,
                "duplicate",
                from_state=TranscriptStatus.PROCESSING,
                to_state=TranscriptStatus.FAILED,
                same_as=earlier.id,
            )
            return seen
        row.sha256, row.content, row.size_bytes = digest, data, len(data)
        if info and info.get("name"):
            row.filename = str(info["name"])[:255]
        session.add(row)
        audit.record(
            session,
            row.team_id,
            "system",
            "transcript",
            row.id,
            "stored",
            sha256=digest,
            size=len(data),
        )
        return None


def known_file(engine: Engine, team_id: str, file_id: str) -> bool:
    """True when this Slack file already has a job row (the other event got here first)."""
    with session_scope(engine) as session:
        return _by_file(session, team_id, file_id) is not None
