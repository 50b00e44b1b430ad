"""Outbox rows: written by domain services inside their own transactions, claimed and settled
by the sender (`bot.outbox.scheduled`). Every write here is a guarded UPDATE keyed by the
claim token (`attempts`), so a sender that lost its claim can change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from bot import clock
from bot.db import Db, on_postgres
from bot.models import OutboundMessage, OutboxStatus
from bot.states import Machine, move_rows, moving
from bot.workspaces.service import active_only

TABLE = OutboundMessage.__table__  # type: ignore[attr-defined]
PENDING, SENDING = OutboxStatus.PENDING, OutboxStatus.SENDING
SENT, FAILED, CANCELLED = OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED
OUTBOX = Machine(
    "message",
    TABLE,
    {
        "claim": {PENDING: SENDING, SENDING: SENDING},  # SENDING: its lease expired
        "sent": {SENDING: SENT},
        "again": {SENDING: PENDING},  # an update asked for meanwhile: send it once more
        "retry": {SENDING: PENDING},
        "fail": {SENDING: FAILED},
        "drop": {SENDING: CANCELLED},  # nothing left to say
        "withdraw": {PENDING: CANCELLED},
        # enqueue_update's upsert: a finished message is asked to be edited again
        "refresh": {SENT: PENDING, FAILED: PENDING, CANCELLED: PENDING, PENDING: PENDING},
    },
)


def _insert(session: OrmSession) -> Any:
    if on_postgres(session):
        return postgresql.insert(TABLE)
    return sqlite.insert(TABLE)


def by_key(session: Session, team_id: str, key: str) -> OutboundMessage | None:
    return session.exec(
        select(OutboundMessage).where(
            OutboundMessage.team_id == team_id, OutboundMessage.key == key
        )
    ).first()


def enqueue(
    session: Session,
    team_id: str,
    key: str,
    *,
    user: str | None = None,
    channel: str | None = None,
    text: str = "",
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    kind: str = "message",
    entity: tuple[str, int] | None = None,
    not_before: dt.datetime | None = None,
    email: dict[str, str] | None = None,
    detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Ask for one message to be sent (a DM to `user`, a post in `channel`, or an `email`
    {to, subject, sender}) from `now` (the caller's clock: the tick's, in scheduled work);
    `detail` is kept for the kind's hooks. Idempotent by `key`: asking again changes
    nothing (the first row stands)."""
    if sum(x is not None for x in (user, channel, email)) != 1:
        raise ValueError("enqueue needs exactly one of user, channel, email")
    now = now or clock.now()
    values: dict[str, Any] = {
        "team_id": team_id,
        "key": key,
        "kind": kind,
        "op": "email" if email else "post",
        "entity": entity[0] if entity else None,
        "entity_id": entity[1] if entity else None,
        "user_id": user,
        "channel": channel,
        "thread_ts": thread_ts,
        "text": text,
        "blocks": blocks or [],
        "detail": {**(detail or {}), **(email or {})},
        "status": PENDING,
        "version": 0,
        "attempts": 0,
        "failures": 0,
        "maybe_sent": False,
        "due_at": not_before or now,
        "created_at": now,
        "updated_at": now,
    }
    session.execute(_insert(session).values(**values).on_conflict_do_nothing())


def _at_key(*columns: Any) -> Any:
    """These columns of the message sent under a key (params `team`, `key`), built once."""
    return sa.select(*columns).where(
        TABLE.c.team_id == sa.bindparam("team"), TABLE.c.key == sa.bindparam("key")
    )


# what an edit needs of the message it edits (every change to a case asks twice) …
_EDIT_TARGET = _at_key(TABLE.c.status, TABLE.c.user_id, TABLE.c.channel)
# … and, when the edit is sent, where that message landed
_POSTED_AT = _at_key(TABLE.c.status, TABLE.c.sent_channel, TABLE.c.sent_ts)


def posted_at(db: Db, team_id: str, key: str) -> Any:
    """(status, sent_channel, sent_ts) of the message sent under `key`, or None."""
    return db.execute(_POSTED_AT, {"team": team_id, "key": key}).first()


def update_key(ref_key: str) -> str:
    return f"{ref_key}#update"


def enqueue_update(
    session: Session,
    team_id: str,
    ref_key: str,
    *,
    text: str = "",
    blocks: list[dict[str, Any]] | None = None,
    kind: str = "update",
    entity: tuple[str, int] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Ask for the message sent under `ref_key` to be edited to this content (or, for a kind
    with a renderer, re-rendered at send time). Asking again while an edit is waiting replaces
    it; while one is being sent, it is sent once more afterwards — so the last word always
    lands last, whichever process asked. The edit shares the lane (person or channel) of the
    message it edits, so it lands in order with what follows it there."""
    now = now or clock.now()
    target = session.execute(_EDIT_TARGET, {"team": team_id, "key": ref_key}).first()
    if target is None or target.status in (FAILED, CANCELLED):
        return  # that message was never (and will never be) posted: nothing to edit
    session.execute(
        _update_upsert(session.get_bind().dialect.name),
        {
            "team_id": team_id,
            "key": update_key(ref_key),
            "user_id": target.user_id,
            "channel": target.channel,
            "kind": kind,
            "ref_key": ref_key,
            "entity": entity[0] if entity else None,
            "entity_id": entity[1] if entity else None,
            "text": text,
            "blocks": blocks or [],
            "now": now,
        },
    )


_UPSERTS: dict[str, Any] = {}


def _update_upsert(dialect: str) -> Any:
    """`enqueue_update`'s statement, built once per dialect: every change to a case refreshes
    its cards with it, and building and cache-keying it anew each time was half of a click's
    CPU in the web process."""
    stmt = _UPSERTS.get(dialect)
    if stmt is not None:
        return stmt
    p, c = sa.bindparam, TABLE.c
    insert = (postgresql.insert(TABLE) if dialect == "postgresql" else sqlite.insert(TABLE)).values(
        team_id=p("team_id"),
        key=p("key"),
        user_id=p("user_id"),
        channel=p("channel"),
        kind=p("kind"),
        op="update",
        ref_key=p("ref_key"),
        entity=p("entity"),
        entity_id=p("entity_id"),
        text=p("text"),
        blocks=p("blocks", type_=c.blocks.type),
        detail={},
        status=PENDING,
        version=0,
        attempts=0,
        failures=0,
        maybe_sent=False,
        due_at=p("now", type_=c.due_at.type),
        created_at=p("now", type_=c.created_at.type),
        updated_at=p("now", type_=c.updated_at.type),
    )
    sending = c.status == SENDING
    stmt = insert.on_conflict_do_update(  # state-table: refresh (an upsert cannot use move_rows)
        index_elements=["team_id", "key"],
        set_={
            "text": insert.excluded.text,
            "blocks": insert.excluded.blocks,
            "kind": insert.excluded.kind,
            "version": c.version + 1,
            "failures": 0,
            "status": sa.case((sending, c.status), else_=sa.literal(PENDING)),
            "due_at": sa.case((sending, c.due_at), else_=insert.excluded.due_at),
            "error": None,
            "updated_at": p("now", type_=c.updated_at.type),
        },
    )
    _UPSERTS[dialect] = stmt
    return stmt


def cancel(session: Session, team_id: str, key: str) -> bool:
    """Withdraw a message not sent yet (e.g. a reminder for a step decided meanwhile)."""
    done = move_rows(
        session,
        OUTBOX,
        "withdraw",
        TABLE.c.team_id == team_id,
        TABLE.c.key == key,
        values={"due_at": None, "updated_at": clock.now()},
    )
    return bool(done)


# --- the sender's side ------------------------------------------------------------------------


def claim(
    session: Db,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    *,
    team_id: str | None = None,
    fresh_only: bool = False,
) -> list[OutboundMessage]:
    """Atomically take up to `limit` due rows (pending, or sending with an expired lease);
    returns them as claimed (RETURNING: no second read), their `attempts` the claim token.
    `team_id` + `fresh_only` (not failing) narrow it to what a request has just written and
    what its hooks write in turn."""
    pick = sa.select(TABLE.c.id).where(
        TABLE.c.status.in_(OUTBOX.sources("claim")),
        TABLE.c.due_at <= now,
        active_only(TABLE.c.team_id),  # a workspace that uninstalled gets nothing: its rows wait
    )
    if team_id is not None:
        pick = pick.where(TABLE.c.team_id == team_id)
    if fresh_only:
        pick = pick.where(TABLE.c.failures == 0)
    pick = pick.order_by(TABLE.c.due_at, TABLE.c.id).limit(limit)
    if on_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    rows = move_rows(
        session,
        OUTBOX,
        "claim",
        TABLE.c.id.in_(pick),
        values={
            "attempts": TABLE.c.attempts + 1,
            "lease_until": lease_until,
            "due_at": lease_until,
            "updated_at": now,
        },
        returning=tuple(TABLE.c),
    )
    return [OutboundMessage(**r._mapping) for r in rows]


# The sender's writes, built once (bound parameters): each message sent runs three or four
# of them, and building and cache-keying a statement anew costs more CPU than running it.
# Each is guarded by the claim token (`_MINE`): a sender that lost its claim changes nothing.
_p, _c = sa.bindparam, TABLE.c
_MINE = sa.and_(_c.id == _p("p_id"), _c.attempts == _p("p_token"), _c.status == SENDING)
_FENCE = (
    sa.update(TABLE)
    .where(_MINE)
    .values(
        maybe_sent=True,
        posting_at=_p("p_posting_at", type_=_c.posting_at.type),
        sent_channel=_p("p_channel"),
        lease_until=_p("p_lease", type_=_c.lease_until.type),
        due_at=_p("p_lease", type_=_c.due_at.type),
    )
)
_RENEW = (
    sa.update(TABLE)
    .where(_MINE)
    .values(
        lease_until=_p("p_lease", type_=_c.lease_until.type),
        due_at=_p("p_lease", type_=_c.due_at.type),
    )
)
_NOW = _p("p_now", type_=_c.updated_at.type)
_SENT = moving(
    OUTBOX,
    "sent",
    _MINE,
    _c.version == _p("p_version"),
    values={
        "sent_channel": _p("p_channel"),
        "sent_ts": _p("p_ts"),
        "maybe_sent": False,
        "lease_until": None,
        "due_at": None,
        "sent_at": _NOW,
        "failures": 0,
        "error": None,
        "updated_at": _NOW,
    },
)
_AGAIN = moving(
    OUTBOX,
    "again",
    _MINE,
    values={"maybe_sent": False, "lease_until": None, "due_at": _NOW, "updated_at": _NOW},
)
_RETRY = moving(
    OUTBOX,
    "retry",
    _MINE,
    values={
        "due_at": _p("p_due", type_=_c.due_at.type),
        "lease_until": None,
        "maybe_sent": _p("p_maybe_sent"),
        "failures": _c.failures + _p("p_failed"),
        "error": _p("p_error"),
        "updated_at": _NOW,
    },
)
_FINAL_VALUES = {
    "due_at": None,
    "lease_until": None,
    "maybe_sent": False,
    "error": _p("p_error"),
    "updated_at": _NOW,
}
_FINAL = {
    "fail": moving(OUTBOX, "fail", _MINE, values=_FINAL_VALUES),
    "drop": moving(OUTBOX, "drop", _MINE, values=_FINAL_VALUES),
}


def _run(db: Db, stmt: Any, row_id: int, token: int, **params: Any) -> bool:
    result = db.execute(stmt, {"p_id": row_id, "p_token": token, **params})
    return result.rowcount == 1  # type: ignore[attr-defined]


def fence(
    db: Db,
    row_id: int,
    token: int,
    lease_until: dt.datetime,
    channel: str | None,
) -> bool:
    """Right before the post: still ours? Then renew the lease and mark the post as started
    (`maybe_sent`, with the wall-clock time Slack's history will be searched from)."""
    return _run(
        db,
        _FENCE,
        row_id,
        token,
        p_posting_at=dt.datetime.now(dt.UTC),
        p_channel=channel,
        p_lease=lease_until,
    )


def renew(db: Db, row_id: int, token: int, lease_until: dt.datetime) -> bool:
    return _run(db, _RENEW, row_id, token, p_lease=lease_until)


def settle_sent(
    db: Db,
    row_id: int,
    token: int,
    version: int,
    channel: str | None,
    ts: str | None,
    now: dt.datetime,
) -> str:
    """'sent', 'again' (an update was asked for while this one was in flight) or 'lost'."""
    if _run(db, _SENT, row_id, token, p_version=version, p_channel=channel, p_ts=ts, p_now=now):
        return "sent"
    return "again" if _run(db, _AGAIN, row_id, token, p_now=now) else "lost"


def settle_retry(
    db: Db,
    row_id: int,
    token: int,
    due: dt.datetime,
    error: str,
    *,
    maybe_sent: bool,
    now: dt.datetime,
    failed: bool = True,
) -> bool:
    """Not now: back to pending at `due`; `maybe_sent` keeps the look-before-posting mark;
    `failed` counts it towards the backoff (a lane's turn passing is not a failure)."""
    return _run(
        db,
        _RETRY,
        row_id,
        token,
        p_due=due,
        p_maybe_sent=maybe_sent,
        p_failed=1 if failed else 0,
        p_error=error[:500],
        p_now=now,
    )


def settle_final(
    db: Db, row_id: int, token: int, action: str, error: str | None, now: dt.datetime
) -> bool:
    """`fail` (Slack refused it for good) or `drop` (nothing left to say)."""
    return _run(db, _FINAL[action], row_id, token, p_error=(error or "")[:500] or None, p_now=now)
