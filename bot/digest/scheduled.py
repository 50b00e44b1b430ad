"""Scheduled: each person's digest, once per local working day, at their own hour.

Work grows with the people who are due, not with history: every person carries
`next_digest_at` (indexed), the next moment their digest may be due. A tick reads only the
people whose moment has come, builds each digest from their own (indexed) open items, and
moves the moment on to their next working day.

Exactly once per person per local day: a `DigestSend` row keyed (team, user, local date) is
inserted in the same transaction as the digest's outbox row (`bot.outbox`), so a second
worker, a restart or a re-run finds the day taken; the outbox then delivers it once.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session, col, or_, select

from bot.config import Settings
from bot.db import session_scope
from bot.digest.blocks import digest_message
from bot.digest.service import DIGEST, digest_due, next_digest_at, open_items
from bot.models import DigestSend, OutboundMessage, Person
from bot.notify import Notifier
from bot.outbox import service as outbox
from bot.outbox.hooks import OutboxHooks, SendContext
from bot.runtime import Runtime
from bot.states import move
from bot.workspaces.service import active_only

log = logging.getLogger(__name__)
BATCH_PER_TICK = 200  # the rest of a big team goes out over the next ticks


def due_people(session: Session, now: dt.datetime, limit: int) -> list[Person]:
    """People whose digest moment has come, locked for this transaction (SKIP LOCKED)."""
    stmt = (
        select(Person)
        .where(
            or_(col(Person.next_digest_at).is_(None), col(Person.next_digest_at) <= now),
            active_only(col(Person.team_id)),
        )
        .order_by(col(Person.next_digest_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.exec(stmt))


def queue_digest(session: Session, person: Person, settings: Settings, now: dt.datetime) -> bool:
    """One person's digest for today, if due, not yet sent and not empty; then their next
    moment. Returns whether a digest was queued."""
    local_date = digest_due(person, settings, now)
    person.next_digest_at = next_digest_at(person, settings, now)
    session.add(person)
    if local_date is None:
        return False
    taken = session.exec(
        select(DigestSend.id).where(
            DigestSend.team_id == person.team_id,
            DigestSend.user_id == person.slack_user_id,
            DigestSend.local_date == local_date,
        )
    ).first()
    if taken is not None:
        return False
    items = open_items(session, person.team_id, person.slack_user_id, local_date)
    if not items:
        return False  # nobody gets an empty digest
    send = DigestSend(team_id=person.team_id, user_id=person.slack_user_id, local_date=local_date)
    session.add(send)
    session.flush()
    text, blocks = digest_message(items, local_date)
    outbox.enqueue(
        session,
        person.team_id,
        f"digest:{person.slack_user_id}:{local_date.isoformat()}",
        user=person.slack_user_id,
        text=text,
        blocks=blocks,
        kind="digest",
        entity=("digestsend", send.id or 0),
        now=now,
    )
    return True


def run_digests(
    rt: Runtime, notifier: Notifier, now: dt.datetime, limit: int = BATCH_PER_TICK
) -> int:
    """DUE_JOB: queue the digests due at `now`; returns how many were queued."""
    queued = 0
    with session_scope(rt.engine) as s:
        for person in due_people(s, now, limit):
            with s.begin_nested():  # one person's unique-key race never undoes the others
                queued += queue_digest(s, person, rt.settings, now)
    return queued


def _send_row(session: Session, row: OutboundMessage) -> DigestSend | None:
    send = session.get(DigestSend, row.entity_id) if row.entity_id else None
    return send if send is not None and send.team_id == row.team_id else None


def digest_sent(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    send = _send_row(session, row)
    if send is not None and send.status == "queued":
        move(session, DIGEST, send, "sent", message_ts=row.sent_ts)


def digest_failed(session: Session, row: OutboundMessage, ctx: SendContext) -> None:
    send = _send_row(session, row)
    if send is not None and send.status == "queued":
        log.warning("digest for %s not deliverable: %s", send.user_id, row.error)
        move(session, DIGEST, send, "fail")


DUE_JOBS = [("digest", run_digests)]
OUTBOX_HOOKS = {"digest": OutboxHooks(on_sent=digest_sent, on_failed=digest_failed)}
