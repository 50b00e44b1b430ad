"""Recorded calls: accepting a recorder's delivery (once), downloading it, matching it to an
account and handing it to capture as a `Transcript` whose review goes to the host as a DM.

Matching: the participants' email domains against account domains (our own domain — the
host's and our people's — never counts); else capture's own guess from the topic, speakers
and contacts; else no account, and the review DM asks the host to pick one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.db import is_sqlite, session_scope
from bot.models import Account, Person, Transcript, TranscriptStatus
from bot.outbox import service as outbox
from bot.recorders.models import DELIVERY, DeliveryStatus, RecorderDelivery
from bot.states import move, move_rows
from bot.transcripts import sha256_hex

log = logging.getLogger(__name__)
D = DeliveryStatus
TABLE = RecorderDelivery.__table__  # type: ignore[attr-defined]
MAX_ATTEMPTS = 4
LEASE = dt.timedelta(minutes=5)
BACKOFF = (dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=10))


@dataclass(frozen=True)
class Incoming:
    vendor: str
    external_id: str
    topic: str = ""
    host_email: str | None = None
    participants: tuple[dict[str, Any], ...] = ()
    started_at: dt.datetime | None = None
    filename: str = "call.vtt"
    download_url: str | None = None
    download_token: str | None = None
    content: bytes | None = None


def accept(engine: Engine, team_id: str, item: Incoming, now: dt.datetime | None = None) -> bool:
    """Store the delivery once per (vendor, external id); False when it was known already."""
    now = now or clock.now()
    insert = (sqlite.insert if is_sqlite(engine) else postgresql.insert)(TABLE)
    values = {
        "team_id": team_id,
        "vendor": item.vendor,
        "external_id": item.external_id[:255],
        "topic": item.topic[:300],
        "host_email": (item.host_email or "").lower() or None,
        "participants": list(item.participants)[:200],
        "started_at": item.started_at,
        "filename": item.filename[:255],
        "download_url": item.download_url,
        "download_token": item.download_token,
        "content": item.content,
        "status": D.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    stmt = (
        insert.values(values)
        .on_conflict_do_nothing(index_elements=["team_id", "vendor", "external_id"])
        .returning(TABLE.c.id)
    )
    with engine.begin() as conn:
        row = conn.execute(stmt).first()
    if row is not None:
        with session_scope(engine) as session:
            audit.record(
                session,
                team_id,
                item.vendor,
                "recorder_delivery",
                row[0],
                "received",
                to_state=D.PENDING,
                topic=item.topic[:120],
                inline=item.content is not None,
            )
    return row is not None


def claim_due(engine: Engine, now: dt.datetime, limit: int = 5) -> list[tuple[int, int]]:
    """(id, attempt) of deliveries due for a download (pending and due, or downloading with
    an expired lease), each claimed by one worker in one guarded UPDATE."""
    due = sa.or_(
        sa.and_(TABLE.c.status == D.PENDING, TABLE.c.next_attempt_at <= now),
        sa.and_(TABLE.c.status == D.DOWNLOADING, TABLE.c.lease_until < now),
    )
    with session_scope(engine) as session:
        pick = sa.select(TABLE.c.id).where(due).order_by(TABLE.c.id).limit(limit)
        if not is_sqlite(engine):
            pick = pick.with_for_update(skip_locked=True)
        rows = move_rows(
            session,
            DELIVERY,
            "claim",
            TABLE.c.id.in_(pick),
            due,
            values={"lease_until": now + LEASE, "attempts": TABLE.c.attempts + 1},
            returning=(TABLE.c.id, TABLE.c.attempts),
        )
    return sorted((int(r[0]), int(r[1])) for r in rows)


def get(engine: Engine, delivery_id: int) -> RecorderDelivery:
    with session_scope(engine) as session:
        row = session.get(RecorderDelivery, delivery_id)
        assert row is not None
        return row


def _owned(session: Session, delivery_id: int, attempt: int) -> RecorderDelivery | None:
    row = session.get(RecorderDelivery, delivery_id)
    if row is None or row.status != D.DOWNLOADING or row.attempts != attempt:
        return None
    return row


def host_user(session: Session, team_id: str, email: str | None, directory: Any) -> str | None:
    """The host's Slack user: our roster first, then Slack's directory."""
    if not email:
        return None
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.email == email.lower())
    ).first()
    if person is not None:
        return person.slack_user_id
    try:
        found = directory.user_by_email(team_id, email) if directory is not None else None
    except Exception:  # noqa: BLE001 — a directory failure means "not known", not a crash
        found = None
    return str(found["id"]) if found and found.get("id") else None


def match_account(
    session: Session, team_id: str, emails: list[str], host_email: str | None
) -> int | None:
    """The one account whose domain the participants' emails share (ours excluded)."""
    ours = {e.rsplit("@", 1)[1] for e in [host_email or ""] if "@" in e}
    ours |= {
        p.email.rsplit("@", 1)[1].lower()
        for p in session.exec(
            select(Person).where(Person.team_id == team_id, col(Person.email).is_not(None))
        )
        if p.email and "@" in p.email
    }
    domains = {e.rsplit("@", 1)[1].lower() for e in emails if "@" in e} - ours
    if not domains:
        return None
    hits = list(
        session.exec(
            select(Account.id).where(Account.team_id == team_id, col(Account.domain).in_(domains))
        )
    )
    return hits[0] if len(set(hits)) == 1 else None


@dataclass(frozen=True)
class Handed:
    transcript_id: int
    new: bool
    reviewer: str | None


def hand_to_capture(
    engine: Engine, delivery_id: int, attempt: int, data: bytes, directory: Any
) -> Handed | None:
    """The bytes become a queued Transcript (read by the capture worker like an upload) whose
    review goes to the host — or the account's CSM — as a DM. Same bytes twice: one transcript."""
    digest = sha256_hex(data)
    with session_scope(engine) as session:
        row = _owned(session, delivery_id, attempt)
        if row is None:
            return None
        emails = [str(p.get("email") or "") for p in row.participants]
        account_id = match_account(session, row.team_id, emails, row.host_email)
        host = host_user(session, row.team_id, row.host_email, directory)
        account = session.get(Account, account_id) if account_id else None
        reviewer = host or (account.csm_user_id if account else None)
        existing = session.exec(
            select(Transcript).where(Transcript.team_id == row.team_id, Transcript.sha256 == digest)
        ).first()
        if existing is not None:
            move(
                session,
                DELIVERY,
                row,
                "done",
                transcript_id=existing.id,
                lease_until=None,
                host_user_id=host,
                updated_at=clock.now(),
            )
            audit.record(
                session,
                row.team_id,
                "system",
                "recorder_delivery",
                row.id,
                "duplicate",
                from_state=D.DOWNLOADING,
                to_state=D.DONE,
                transcript=existing.id,
            )
            return Handed(existing.id or 0, False, reviewer)
        t = Transcript(
            team_id=row.team_id,
            sha256=digest,
            filename=row.filename or "call.vtt",
            size_bytes=len(data),
            content=data,
            account_id=account_id,
            call_date=row.started_at.date() if row.started_at else None,
            uploader_user_id=reviewer,
            channel_id=None,
            thread_ts=None,
            status=TranscriptStatus.QUEUED,
        )
        session.add(t)
        session.flush()
        move(
            session,
            DELIVERY,
            row,
            "done",
            transcript_id=t.id,
            lease_until=None,
            host_user_id=host,
            account_id=account_id,
            updated_at=clock.now(),
            download_token=None,
        )  # done with the secret
        audit.record(
            session,
            row.team_id,
            row.vendor,
            "transcript",
            t.id,
            "received",
            to_state=TranscriptStatus.QUEUED,
            delivery=row.id,
            account_id=account_id,
            reviewer=reviewer,
            matched="participants" if account_id else None,
        )
        audit.record(
            session,
            row.team_id,
            "system",
            "recorder_delivery",
            row.id,
            "downloaded",
            from_state=D.DOWNLOADING,
            to_state=D.DONE,
            transcript=t.id,
            size=len(data),
        )
        return Handed(t.id or 0, True, reviewer)


def failed_attempt(
    engine: Engine,
    delivery_id: int,
    attempt: int,
    reason: str,
    *,
    retry: bool,
    now: dt.datetime,
    directory: Any,
) -> bool:
    """Retry later, or give up and tell the host (through the outbox, with the change)."""
    with session_scope(engine) as session:
        row = _owned(session, delivery_id, attempt)
        if row is None:
            return False
        if retry and attempt < MAX_ATTEMPTS:
            move(
                session,
                DELIVERY,
                row,
                "retry",
                error=reason[:500],
                updated_at=now,
                lease_until=None,
                next_attempt_at=now + BACKOFF[min(attempt - 1, len(BACKOFF) - 1)],
            )
            return False
        host = host_user(session, row.team_id, row.host_email, directory)
        move(
            session,
            DELIVERY,
            row,
            "fail",
            error=reason[:500],
            updated_at=now,
            lease_until=None,
            host_user_id=host,
            download_token=None,
        )  # done with the secret
        audit.record(
            session,
            row.team_id,
            "system",
            "recorder_delivery",
            row.id,
            "failed",
            from_state=D.DOWNLOADING,
            to_state=D.FAILED,
            reason=reason[:300],
            attempts=attempt,
        )
        vendor = row.vendor.title()
        if host:
            outbox.enqueue(
                session,
                row.team_id,
                f"recorder_delivery:{row.id}:failed",
                user=host,
                text=(
                    f":warning: I couldn't fetch the transcript of *{row.topic or 'your call'}* "
                    f"from {vendor} after {attempt} tries: {reason}. Download it from {vendor} "
                    "and upload it here, and I'll read it as usual."
                ),
                entity=("recorder_delivery", row.id or 0),
                now=now,
            )
        else:
            log.warning("recorder delivery %s failed and its host is not in Slack", row.id)
        return True
