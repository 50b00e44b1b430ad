"""Decisions in the review thread: Confirm, Dismiss, Done, Edit, owner and account pickers,
Confirm all — each through `bot.commitments.service` (state machine, permission, audit) and each
answered with the review messages to refresh in place.

The review is always rebuilt from the database, so what the thread shows after a click is
what is stored, including who did what (read back from the audit log).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit
from bot.capture.blocks import Review, ReviewItem, part_of, review_part
from bot.commitments import service as cm
from bot.config import Settings
from bot.db import session_scope
from bot.models import Account, AuditEvent, Commitment, CommitmentStatus, Transcript
from bot.people.service import is_cs_admin

CS = CommitmentStatus


@dataclass(frozen=True)
class Refresh:
    """One review message to update in place."""

    channel: str
    ts: str
    text: str
    blocks: list[dict]
    transcript_id: int | None = None  # to render it again from what is stored (`current`)


@dataclass
class Outcome:
    refresh: list[Refresh] = field(default_factory=list)
    note: str | None = None  # shown to the clicker only


class ReviewError(ValueError):
    """A refused review action; the message is shown to the person who tried it."""


def admins_for(session: Session, team_id: str, actor: str, settings: Settings) -> set[str]:
    """CS admins as user ids: CS_ADMINS may name ids or emails; the roster flag counts too."""
    return {actor} if is_cs_admin(session, team_id, actor, settings.cs_admins) else set()


# --- reading -------------------------------------------------------------------------------


def _last_actions(session: Session, team_id: str, ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    if not ids:
        return out
    rows = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.team_id == team_id,
            AuditEvent.entity == "commitment",
            col(AuditEvent.entity_id).in_(ids),
        )
        .order_by(col(AuditEvent.id))
    )
    for ev in rows:
        seen = out.setdefault(ev.entity_id or 0, {})
        if ev.action == "edited":
            seen["edited_by"] = ev.actor
        elif ev.action in cm.TRANSITIONS:
            seen["action"], seen["actor"] = ev.action, ev.actor
    return out


def load_review(session: Session, team_id: str, transcript_id: int) -> Review:
    t = session.exec(
        select(Transcript).where(Transcript.team_id == team_id, Transcript.id == transcript_id)
    ).first()
    if t is None:
        raise ReviewError("That transcript no longer exists.")
    rows = list(
        session.exec(
            select(Commitment)
            .where(Commitment.team_id == team_id, Commitment.transcript_id == transcript_id)
            .order_by(col(Commitment.id))
        )
    )
    seen = _last_actions(session, team_id, [c.id or 0 for c in rows])
    account = session.get(Account, t.account_id) if t.account_id else None
    items = tuple(
        ReviewItem(
            id=c.id or 0,
            number=n,
            text=c.text,
            status=c.status,
            owner_user_id=c.owner_user_id,
            owner_name=c.owner_name,
            side=c.side,
            due=c.due_date,
            due_phrase=c.due_phrase,
            category=c.category,
            evidence=c.evidence,
            confidence=c.confidence,
            last_action=seen.get(c.id or 0, {}).get("action"),
            last_actor=seen.get(c.id or 0, {}).get("actor") or c.decided_by,
            edited_by=seen.get(c.id or 0, {}).get("edited_by"),
        )
        for n, c in enumerate(rows, start=1)
    )
    return Review(
        transcript_id=t.id or 0,
        filename=t.filename,
        call_date=t.call_date,
        account_id=account.id if account and account.team_id == team_id else None,
        account_name=account.name if account and account.team_id == team_id else None,
        engine=t.engine,
        fallback_reason=t.fallback_reason,
        speakers=tuple(t.speakers or ()),
        word_count=t.word_count,
        uploader=t.uploader_user_id,
        items=items,
        skipped_cues=_skipped_cues(session, team_id, t.id or 0),
    )


def _skipped_cues(session: Session, team_id: str, transcript_id: int) -> int:
    ev = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.team_id == team_id,
            AuditEvent.entity == "transcript",
            AuditEvent.entity_id == transcript_id,
            AuditEvent.action == "extracted",
        )
        .order_by(col(AuditEvent.id).desc())
    ).first()
    return int((ev.detail or {}).get("skipped_cues") or 0) if ev else 0


def _refresh_parts(
    session: Session,
    team_id: str,
    transcript_id: int,
    commitment_ids: list[int] | None = None,
    seen_in: tuple[str, str] | None = None,
) -> list[Refresh]:
    """The review messages holding these commitments (all parts when None).

    `seen_in` is the message the click came from: a click can beat the worker's note of
    where the review was posted, and that message is the one to update.
    """
    review = load_review(session, team_id, transcript_id)
    rows = {
        c.id: c
        for c in session.exec(
            select(Commitment).where(
                Commitment.team_id == team_id, Commitment.transcript_id == transcript_id
            )
        )
    }
    parts = (
        {part_of(review, cid) for cid in commitment_ids}
        if commitment_ids is not None
        else set(range(len(review.parts())))
    )
    out = []
    for index in sorted(p for p in parts if p is not None):
        chunk = review.parts()[index]
        first = rows.get(chunk[0].id) if chunk else None
        where = (first.review_channel, first.review_ts) if first else (None, None)
        if not where[1] and seen_in and commitment_ids and len(parts) == 1:
            where = seen_in
            for item in chunk:
                row = rows[item.id]
                row.review_channel, row.review_ts = seen_in
                session.add(row)
        if where[0] and where[1]:
            text, blocks = review_part(review, index)
            out.append(Refresh(where[0], where[1], text, blocks, transcript_id))
    return out


def current(engine: Engine, team_id: str, r: Refresh) -> Refresh:
    """The same review message rendered from what is stored now: two clicks' updates may
    reach Slack in either order, so each one shows the latest state, not its own."""
    if r.transcript_id is None:
        return r
    with session_scope(engine) as session:
        for fresh in _refresh_parts(session, team_id, r.transcript_id):
            if (fresh.channel, fresh.ts) == (r.channel, r.ts):
                return fresh
    return r


# --- one commitment ------------------------------------------------------------------------


def decide(
    engine: Engine,
    settings: Settings,
    team_id: str,
    actor: str,
    action: str,
    commitment_id: int,
    expected: str,
    seen_in: tuple[str, str] | None = None,
) -> Outcome:
    """Confirm / dismiss / done one commitment, refusing stale clicks and strangers."""
    with session_scope(engine) as session:
        c = cm.get(session, team_id, commitment_id)
        admins = admins_for(session, team_id, actor, settings)
        if (
            action == "confirm"
            and c.status == expected == CS.PROPOSED
            and c.owner_user_id is None
            and c.side != "customer"
            and cm.may_change(session, c, actor, admins)
        ):
            raise cm.CommitmentError(
                "Pick who owns this commitment first (the *Who owns "
                "this?* picker next to it), then Confirm."
            )
        cm.transition(
            session, team_id, commitment_id, action, actor, admins=admins, expected=expected
        )
        refresh = (
            _refresh_parts(session, team_id, c.transcript_id or 0, [commitment_id], seen_in)
            if c.transcript_id
            else []
        )
    return Outcome(refresh)


def confirm_all(
    engine: Engine, settings: Settings, team_id: str, actor: str, transcript_id: int
) -> Outcome:
    """Confirm every proposed commitment the actor may change that has an owner."""
    confirmed, no_owner, refused = 0, 0, ""
    with session_scope(engine) as session:
        admins = admins_for(session, team_id, actor, settings)
        rows = list(
            session.exec(
                select(Commitment)
                .where(
                    Commitment.team_id == team_id,
                    Commitment.transcript_id == transcript_id,
                    Commitment.status == CS.PROPOSED,
                )
                .order_by(col(Commitment.id))
            )
        )
        if not rows:
            raise cm.CommitmentError("Nothing is waiting for review here any more.")
        for c in rows:
            if not cm.may_change(session, c, actor, admins):
                refused = cm._who_can(session, c)  # noqa: SLF001 — same wording everywhere
                continue
            if c.owner_user_id is None and c.side != "customer":
                no_owner += 1
                continue
            cm.transition(
                session, team_id, c.id or 0, "confirm", actor, admins=admins, expected=CS.PROPOSED
            )
            confirmed += 1
        if not confirmed and refused and not no_owner:
            raise cm.CommitmentError(refused)
        refresh = _refresh_parts(session, team_id, transcript_id)
    note = None
    if no_owner:
        note = (
            f"Confirmed {confirmed}. {no_owner} still need an owner: pick one next to "
            "each, then Confirm."
        )
    return Outcome(refresh, note)


def set_owner(
    engine: Engine,
    settings: Settings,
    team_id: str,
    actor: str,
    commitment_id: int,
    expected: str,
    owner_user_id: str,
    seen_in: tuple[str, str] | None = None,
) -> Outcome:
    with session_scope(engine) as session:
        c = cm.get(session, team_id, commitment_id)
        if c.status != expected:
            raise cm.CommitmentError(f"This commitment is already {c.status}; nothing changed.")
        cm.edit(
            session,
            team_id,
            commitment_id,
            actor,
            admins=admins_for(session, team_id, actor, settings),
            owner_user_id=owner_user_id,
        )
        refresh = _refresh_parts(session, team_id, c.transcript_id or 0, [commitment_id], seen_in)
    return Outcome(refresh)


@dataclass(frozen=True)
class EditTarget:
    item: ReviewItem
    channel: str | None
    ts: str | None


def edit_target(
    engine: Engine, settings: Settings, team_id: str, actor: str, commitment_id: int, expected: str
) -> EditTarget:
    """What the Edit modal starts from, after the same checks a save will make."""
    with session_scope(engine) as session:
        c = cm.get(session, team_id, commitment_id)
        if not cm.may_change(session, c, actor, admins_for(session, team_id, actor, settings)):
            raise cm.CommitmentError(cm._who_can(session, c))  # noqa: SLF001
        if c.status != expected or c.status in {CS.DONE, CS.DISMISSED}:
            raise cm.CommitmentError(f"This commitment is already {c.status}; nothing to edit.")
        review = load_review(session, team_id, c.transcript_id or 0) if c.transcript_id else None
        item = next((i for i in review.items if i.id == c.id), None) if review else None
        if item is None:
            item = ReviewItem(
                id=c.id or 0,
                number=1,
                text=c.text,
                status=c.status,
                owner_user_id=c.owner_user_id,
                owner_name=c.owner_name,
                side=c.side,
                due=c.due_date,
                category=c.category,
                evidence=c.evidence,
            )
        return EditTarget(item, c.review_channel, c.review_ts)


def save_edit(
    engine: Engine,
    settings: Settings,
    team_id: str,
    actor: str,
    commitment_id: int,
    *,
    text: str,
    owner_user_id: str | None,
    due: dt.date | None,
    category: str,
) -> Outcome:
    with session_scope(engine) as session:
        c = cm.get(session, team_id, commitment_id)
        cm.edit(
            session,
            team_id,
            commitment_id,
            actor,
            admins=admins_for(session, team_id, actor, settings),
            text=text,
            owner_user_id=owner_user_id if owner_user_id else None,
            due_date=due,
            category=category,
        )
        refresh = (
            _refresh_parts(session, team_id, c.transcript_id or 0, [commitment_id])
            if c.transcript_id
            else []
        )
    return Outcome(refresh)


# --- the whole transcript ----------------------------------------------------------------


def may_change_transcript(session: Session, t: Transcript, actor: str, settings: Settings) -> bool:
    if admins_for(session, t.team_id, actor, settings) or actor == t.uploader_user_id:
        return True
    account = session.get(Account, t.account_id) if t.account_id else None
    return bool(account and account.csm_user_id == actor)


def set_account(
    engine: Engine,
    settings: Settings,
    team_id: str,
    actor: str,
    transcript_id: int,
    account_id: int,
) -> Outcome:
    """Point the call (and its undecided or open commitments) at another account."""
    with session_scope(engine) as session:
        t = session.exec(
            select(Transcript).where(Transcript.team_id == team_id, Transcript.id == transcript_id)
        ).first()
        account = session.exec(
            select(Account).where(Account.team_id == team_id, Account.id == account_id)
        ).first()
        if t is None or account is None:
            raise ReviewError("That account or transcript no longer exists.")
        if not may_change_transcript(session, t, actor, settings):
            who = f"<@{t.uploader_user_id}>" if t.uploader_user_id else "the uploader"
            raise ReviewError(
                f"Only {who}, the account's CSM or a CS admin can change the account of this call."
            )
        if t.account_id != account.id:
            before = t.account_id
            t.account_id = account.id
            session.add(t)
            audit.record(
                session,
                team_id,
                actor,
                "transcript",
                t.id,
                "account_set",
                before=before,
                after=account.id,
            )
            for c in session.exec(
                select(Commitment).where(
                    Commitment.team_id == team_id,
                    Commitment.transcript_id == transcript_id,
                    col(Commitment.status).in_([CS.PROPOSED, CS.OPEN]),
                )
            ):
                c.account_id = account.id
                session.add(c)
                audit.record(
                    session,
                    team_id,
                    actor,
                    "commitment",
                    c.id,
                    "account_set",
                    before=before,
                    after=account.id,
                )
        session.flush()
        refresh = _refresh_parts(session, team_id, transcript_id)
    return Outcome(refresh)
