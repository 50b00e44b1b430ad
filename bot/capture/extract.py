"""The capture worker: claim a queued transcript, fetch and keep its bytes, read it, ask the
engine for commitments, store the proposals and post the review in the upload's thread.

Durable by construction: the Transcript row is the job. A claim is an atomic UPDATE that
bumps `attempts` and sets a lease; only the holder of that attempt may write results, so a
worker that stalls past its lease cannot store a second set of proposals. Proposals, the
transcript's status change and their audit rows are one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.capture import ingest
from bot.capture.blocks import duplicate_message, failure_message, review_messages
from bot.capture.context import CallPeople, account_facts, call_people, guess_account
from bot.capture.ingest import TRANSCRIPT
from bot.capture.review import load_review
from bot.config import Settings
from bot.db import session_scope
from bot.llm import get_engine
from bot.llm.base import CallContext, ExtractionEngine, ExtractionResult, LLMError
from bot.models import (
    Commitment,
    CommitmentStatus,
    OutboundMessage,
    Transcript,
    TranscriptStatus,
)
from bot.notify import DeliveryError, Notifier
from bot.outbox import service as outbox
from bot.outbox.hooks import SendContext
from bot.outbox.scheduled import kick
from bot.runtime import Runtime
from bot.states import move, move_rows
from bot.transcripts import ParsedTranscript, TranscriptError, guess_call_date, parse_transcript
from bot.workspaces.service import active_only

log = logging.getLogger(__name__)
TS = TranscriptStatus
LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(seconds=30)


def max_bytes(settings: Settings) -> int:
    return int(settings.max_transcript_mb * 1024 * 1024)


# --- claims --------------------------------------------------------------------------------


def claimable(now: dt.datetime):
    """Queued and due, or processing with an expired lease (its worker died)."""
    lease = col(Transcript.lease_until)
    return or_(
        and_(col(Transcript.status) == TS.QUEUED, or_(lease.is_(None), lease <= now)),
        and_(col(Transcript.status) == TS.PROCESSING, lease < now),
    )


def claim(engine: Engine, transcript_id: int, now: dt.datetime) -> int | None:
    """Take the job; returns the attempt number that now owns it, or None."""
    table = TRANSCRIPT.table
    with session_scope(engine) as session:
        rows = move_rows(
            session,
            TRANSCRIPT,
            "claim",
            table.c.id == transcript_id,
            claimable(now),
            values={"lease_until": now + LEASE, "attempts": table.c.attempts + 1},
            returning=(table.c.attempts,),
        )
        return int(rows[0][0]) if rows else None


def due_ids(engine: Engine, now: dt.datetime, limit: int = 10) -> list[int]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(col(Transcript.id))
            .where(claimable(now), active_only(col(Transcript.team_id)))
            .order_by(col(Transcript.id))
            .limit(limit)
        )
        return [int(i) for i in rows if i is not None]


@dataclass(frozen=True)
class Job:
    id: int
    team_id: str
    file_id: str | None
    filename: str
    content: bytes | None
    channel_id: str | None
    thread_ts: str | None
    uploader: str | None
    size_bytes: int
    created_at: dt.datetime
    account_id: int | None = None  # set when a recorder's participants matched an account


def _job(engine: Engine, transcript_id: int) -> Job:
    with session_scope(engine) as session:
        t = session.get(Transcript, transcript_id)
        assert t is not None
        return Job(
            t.id or 0,
            t.team_id,
            t.slack_file_id,
            t.filename,
            t.content,
            t.channel_id,
            t.thread_ts,
            t.uploader_user_id,
            t.size_bytes,
            clock.as_utc(t.created_at),
            t.account_id,
        )


def _owned(session: Session, transcript_id: int, attempt: int) -> Transcript | None:
    t = session.get(Transcript, transcript_id)
    if t is None or t.status != TS.PROCESSING or t.attempts != attempt:
        return None
    return t


def _fail(engine: Engine, job: Job, attempt: int, reason: str, now: dt.datetime) -> bool:
    with session_scope(engine) as session:
        t = _owned(session, job.id, attempt)
        if t is None:
            return False
        move(
            session, TRANSCRIPT, t, "fail", error=reason, lease_until=None, processed_at=clock.now()
        )
        say(session, job, f"failed:{attempt}", *failure_message(job.filename, reason), now=now)
        audit.record(
            session,
            t.team_id,
            "system",
            "transcript",
            t.id,
            "failed",
            from_state=TS.PROCESSING,
            to_state=TS.FAILED,
            reason=reason[:300],
        )
    return True


def _requeue(engine: Engine, job: Job, attempt: int, now: dt.datetime) -> None:
    with session_scope(engine) as session:
        t = _owned(session, job.id, attempt)
        if t is not None:
            move(session, TRANSCRIPT, t, "requeue", lease_until=now + RETRY_AFTER * attempt)


# --- the pipeline --------------------------------------------------------------------------


def _where(job: Job) -> dict[str, Any] | None:
    """The upload's thread; a transcript a recorder sent (no channel) goes to the host — or
    the account's CSM — as a DM instead."""
    if job.channel_id:
        return {"channel": job.channel_id, "thread_ts": job.thread_ts}
    if job.uploader:
        return {"user": job.uploader}
    return None


def say(
    session: Session,
    job: Job,
    what: str,
    text: str,
    blocks: list[dict] | None = None,
    *,
    now: dt.datetime,
) -> None:
    """Tell the uploader about their transcript, in its thread, through the outbox."""
    where = _where(job)
    if where is None:
        return
    outbox.enqueue(
        session,
        job.team_id,
        f"transcript:{job.id}:{what}",
        **where,
        text=text,
        blocks=blocks,
        kind="capture_note",
        entity=("transcript", job.id),
        now=now,
    )


def _fail_and_say(
    rt: Runtime, notifier: Notifier, job: Job, attempt: int, reason: str, now: dt.datetime
) -> str:
    if _fail(rt.engine, job, attempt, reason, now):
        kick(rt, notifier, job.team_id, now)
    return "failed"


def _too_large_reason(exc: DeliveryError, job: Job, limit: int) -> str:
    digits = re.match(r"\d+", str(exc))
    size = int(digits.group()) if digits else job.size_bytes
    what = f"This file is {size / 1048576:.1f} MB" if size else "This file is too large"
    return (
        f"{what}, over the {limit / 1048576:.0f} MB limit for transcripts. Upload the "
        "transcript text (.vtt, .txt, .docx) rather than the recording, or split the call "
        "into parts."
    )


def _fetch(
    rt: Runtime, notifier: Notifier, job: Job, attempt: int, now: dt.datetime
) -> tuple[bytes | None, str | None]:
    """The file's bytes, or (None, outcome) when the job ended or will be retried."""
    limit = max_bytes(rt.settings)
    if not job.file_id:
        return None, _fail_and_say(rt, notifier, job, attempt, "The file is missing.", now)
    try:
        info, data = notifier.download(job.team_id, job.file_id, limit)
    except DeliveryError as exc:
        if exc.code == "too_large":  # refused from files.info's size, before downloading
            reason = _too_large_reason(exc, job, limit)
            return None, _fail_and_say(rt, notifier, job, attempt, reason, now)
        if exc.retryable and attempt < MAX_ATTEMPTS:
            _requeue(rt.engine, job, attempt, now)
            return None, "retry"
        reason = (
            "Slack wouldn't hand me the file"
            + (f" ({exc.code})" if exc.code else "")
            + ". Check that the app can read files here (files:read) and upload it again."
        )
        return None, _fail_and_say(rt, notifier, job, attempt, reason, now)
    for _ in range(2):
        try:
            seen = ingest.store_content(rt.engine, job.id, attempt, data, info)
            break
        except IntegrityError:  # the same bytes were being stored at this very moment
            continue
        except LookupError:
            return None, "lost"
    else:
        return None, "lost"
    if seen is not None:
        link = permalink(notifier, job.team_id, seen.channel_id, seen.thread_ts)
        earlier_error = seen.error if seen.status == TS.FAILED else None
        with session_scope(rt.engine) as session:
            say(
                session,
                job,
                "duplicate",
                *duplicate_message(
                    job.filename, seen.filename, seen.created_at.date(), link, earlier_error
                ),
                now=now,
            )
        kick(rt, notifier, job.team_id, now)
        return None, "duplicate"
    return data, None


def permalink(notifier: Notifier, team_id: str, channel: str | None, ts: str | None) -> str | None:
    """A link to an earlier thread, when the outbound port can make one."""
    if not channel or not ts:
        return None
    maker = getattr(notifier, "permalink", None)
    try:
        if callable(maker):
            return maker(team_id, channel, ts)
        client = getattr(notifier, "client", None)
        if client is not None:
            return client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    except Exception:  # noqa: BLE001 — a missing link must not stop the answer
        log.info("no permalink for %s/%s", channel, ts)
    return None


@dataclass(frozen=True)
class Plan:
    context: CallContext
    people: CallPeople
    account_id: int | None


def plan_extraction(
    session: Session,
    team_id: str,
    *,
    parsed: ParsedTranscript,
    filename: str,
    channel_id: str | None,
    call_date: dt.date,
    known_account_id: int | None = None,
) -> Plan:
    text = " ".join(u.text for u in parsed.utterances[:400])
    facts = account_facts(session, team_id)
    account_id = known_account_id or guess_account(
        facts, channel_id=channel_id, filename=filename, text=text, speakers=parsed.speakers
    )
    account = next((a for a in facts if a.id == account_id), None)
    people = call_people(session, team_id, parsed.speakers, account)
    ctx = CallContext(
        call_date=call_date,
        our_speakers=list(people.ours),
        customer_speakers=list(people.customers),
        account_name=account.name if account else None,
    )
    return Plan(ctx, people, account_id)


def transcript_text(parsed: ParsedTranscript) -> str:
    return "\n".join(f"{u.speaker or 'Unknown'}: {u.text}" for u in parsed.utterances)


def save_proposals(
    engine: Engine,
    job: Job,
    attempt: int,
    parsed: ParsedTranscript,
    plan: Plan,
    result: ExtractionResult,
    now: dt.datetime,
) -> bool:
    """Commitments, the transcript's move to review, its review messages (outbox) and every
    audit row: one transaction."""
    with session_scope(engine) as session:
        t = _owned(session, job.id, attempt)
        if t is None:
            return False
        for c in result.commitments:
            user = plan.people.members.get(c.owner or "")
            row = Commitment(
                team_id=t.team_id,
                transcript_id=t.id,
                account_id=plan.account_id,
                owner_name=c.owner,
                owner_user_id=user,
                side=str(c.side),
                text=c.text,
                due_date=c.due,
                due_phrase=c.due_phrase,
                category=str(c.category),
                evidence=c.evidence,
                confidence=c.confidence,
                engine=result.engine,
                status=CommitmentStatus.PROPOSED,
                created_by=t.uploader_user_id,
                review_channel=t.channel_id,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                t.team_id,
                "system",
                "commitment",
                row.id,
                "proposed",
                to_state=CommitmentStatus.PROPOSED,
                transcript=t.id,
            )
        move(
            session,
            TRANSCRIPT,
            t,
            "review",
            lease_until=None,
            processed_at=clock.now(),
            error=None,
        )
        t.format, t.text, t.speakers = parsed.format, transcript_text(parsed), parsed.speakers
        t.word_count, t.call_date, t.account_id = (
            parsed.word_count,
            plan.context.call_date,
            plan.account_id,
        )
        t.engine, t.fallback_reason = result.engine, result.fallback_reason
        session.add(t)
        audit.record(
            session,
            t.team_id,
            "system",
            "transcript",
            t.id,
            "extracted",
            from_state=TS.PROCESSING,
            to_state=TS.REVIEW,
            commitments=len(result.commitments),
            engine=result.engine,
            fallback=result.fallback_reason,
            skipped_cues=parsed.skipped_cues or None,
        )
        queue_review(session, job, now)
    return True


def queue_review(session: Session, job: Job, now: dt.datetime) -> int:
    """The review's parts (one thread message per up-to-50 blocks) into the outbox, in the
    transaction that moved the transcript to review; each part's on_sent hook records where
    its items live. Returns how many parts."""
    where = _where(job)
    if where is None:
        return 0
    session.flush()
    review = load_review(session, job.team_id, job.id)
    parts = review.parts() if review.items else [()]
    for index, (text, blocks) in enumerate(review_messages(review)):
        ids = [i.id for i in parts[index]] if review.items else []
        outbox.enqueue(
            session,
            job.team_id,
            f"transcript:{job.id}:review:{index}",
            **where,
            text=text,
            blocks=blocks,
            kind="capture_review",
            entity=("transcript", job.id),
            detail={"commitments": ids},
            now=now,
        )
    return len(parts)


def review_posted(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    """OUTBOX hook: the items of this part live in that message (for edits and clicks)."""
    ids = [int(i) for i in (row.detail or {}).get("commitments") or []]
    if not ids:
        return
    for c in session.exec(
        select(Commitment).where(Commitment.team_id == row.team_id, col(Commitment.id).in_(ids))
    ):
        c.review_channel, c.review_ts = row.sent_channel, row.sent_ts
        session.add(c)


def call_date_for(filename: str, info_created: dt.date | None, today: dt.date) -> dt.date:
    return guess_call_date(filename) or info_created or today


def process_transcript(
    rt: Runtime,
    notifier: Notifier,
    transcript_id: int,
    now: dt.datetime | None = None,
    engine: ExtractionEngine | None = None,
) -> str:
    """Run one capture job end to end; returns what happened (for logs and the scheduler)."""
    now = now or clock.now()
    attempt = claim(rt.engine, transcript_id, now)
    if attempt is None:
        return "taken"
    job = _job(rt.engine, transcript_id)
    if attempt > MAX_ATTEMPTS + 2:  # its workers keep dying mid-way: stop and say so
        return _fail_and_say(
            rt,
            notifier,
            job,
            attempt,
            f"I gave up after {attempt - 1} tries. Please upload it again, and "
            "tell your Followthrough admin if it keeps happening.",
            now,
        )
    try:
        return _process(rt, notifier, job, attempt, now, engine)
    except Exception as exc:  # noqa: BLE001 — whatever it was, the upload is kept and retried
        log.error(
            "capture of transcript %s failed unexpectedly: %s", transcript_id, type(exc).__name__
        )
        log.debug("capture failure", exc_info=True)
        if attempt < MAX_ATTEMPTS:
            _requeue(rt.engine, job, attempt, now)
            return "retry"
        return _fail_and_say(
            rt,
            notifier,
            job,
            attempt,
            "Something went wrong on our side while reading it. Please try "
            "again later, and tell your Followthrough admin if it keeps "
            "happening.",
            now,
        )


def _process(
    rt: Runtime,
    notifier: Notifier,
    job: Job,
    attempt: int,
    now: dt.datetime,
    engine: ExtractionEngine | None,
) -> str:
    data = job.content
    if data is None:
        data, outcome = _fetch(rt, notifier, job, attempt, now)
        if data is None:
            return outcome or "lost"
        job = _job(rt.engine, job.id)
    try:
        parsed = parse_transcript(data, job.filename, max_bytes=max_bytes(rt.settings))
    except TranscriptError as exc:
        return _fail_and_say(rt, notifier, job, attempt, str(exc), now)
    call_date = call_date_for(job.filename, None, now.date())
    if job.channel_id is None:  # a recorder's call: its own start date wins
        with session_scope(rt.engine) as session:
            row = session.get(Transcript, job.id)
            call_date = (row.call_date if row is not None and row.call_date else None) or call_date
    with session_scope(rt.engine) as session:
        plan = plan_extraction(
            session,
            job.team_id,
            parsed=parsed,
            filename=job.filename,
            channel_id=job.channel_id,
            call_date=call_date,
            known_account_id=job.account_id,
        )
    try:
        result = (engine or get_engine(rt.settings)).extract(parsed.utterances, plan.context)
    except LLMError as exc:
        return _fail_and_say(rt, notifier, job, attempt, f"The commitment step failed: {exc}", now)
    if not save_proposals(rt.engine, job, attempt, parsed, plan, result, now):
        return "lost"
    kick(rt, notifier, job.team_id, now)
    log.info(
        "transcript %s: %d commitments proposed (%s)",
        job.id,
        len(result.commitments),
        result.engine,
    )
    return "review"
