"""The sender: claims due outbox rows and delivers each exactly once (see `bot.outbox`).

Rows are grouped by lane (the person or channel they go to): one lane's messages leave in
order, one at a time, at most `LANE_PER_TICK` a tick (Slack allows about one post a second
per channel); different lanes are sent in parallel. Claims are small, so a worker that dies
strands little, and each post renews its own lease just before it is made.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bot import clock
from bot.config import Settings
from bot.db import autocommit, session_scope
from bot.email import EmailError, send_email
from bot.models import OutboundMessage, OutboxStatus
from bot.notify import METADATA_EVENT, DeliveryError, Notifier, Posted
from bot.outbox import service as ob
from bot.outbox.hooks import SendContext, hooks_for
from bot.runtime import Runtime

log = logging.getLogger(__name__)
CLAIM_BATCH = 25
MAX_ROUNDS = 40  # per tick: 1,000 messages, the rest next tick
KICK_ROUNDS = 12  # rounds end early once nothing fresh is due
LANE_PER_TICK = 3
SEND_THREADS = 8
HISTORY_MARGIN = dt.timedelta(minutes=2)  # clock skew between us and Slack
MAX_BACKOFF = dt.timedelta(minutes=30)


def backoff(attempts: int, base: float = 30.0) -> dt.timedelta:
    """base, 2×, 4× … capped at 30 min: Slack (or SMTP) gets time to recover."""
    return min(dt.timedelta(seconds=base * 2 ** max(0, min(attempts, 20) - 1)), MAX_BACKOFF)


def lease_for(settings: Settings) -> dt.timedelta:
    """The claim lease; never shorter than three Slack request timeouts, so a post in flight
    always ends (lands or fails) well before anyone else may take the row."""
    return dt.timedelta(
        seconds=max(settings.step_lease_seconds, 3 * settings.slack_timeout_seconds)
    )


@dataclass
class _Tick:
    """The tick's `now` (which tests and `tick --now` move) advanced by real elapsed time."""

    now: dt.datetime
    started: float

    def current(self) -> dt.datetime:
        return self.now + dt.timedelta(seconds=time.monotonic() - self.started)


def send_due(
    rt: Runtime,
    notifier: Notifier,
    now: dt.datetime,
    *,
    team_id: str | None = None,
    fresh_only: bool = False,
    rounds: int = MAX_ROUNDS,
) -> int:
    """DUE_JOB: send what is due (only one team's newest rows, for `kick`). Returns how many
    messages landed."""
    tick = _Tick(now, time.monotonic())
    lease = lease_for(rt.settings)
    sent = 0
    for _ in range(rounds):
        with autocommit(rt.engine) as conn:  # one UPDATE … RETURNING: atomic by itself
            claimed = ob.claim(
                conn,
                tick.current(),
                tick.current() + lease,
                CLAIM_BATCH,
                team_id=team_id,
                fresh_only=fresh_only,
            )
        if not claimed:
            break
        lanes: dict[str, list[tuple[OutboundMessage, int]]] = {}
        for row in claimed:
            lane = f"{row.team_id}:{row.user_id or row.channel or row.detail.get('to')}"
            lanes.setdefault(lane, []).append((row, row.attempts))
        groups = list(lanes.values())
        if len(groups) == 1:
            sent += _send_lane(rt, notifier, groups[0], tick)
        else:
            with ThreadPoolExecutor(
                max_workers=min(SEND_THREADS, len(groups)), thread_name_prefix="ft-outbox"
            ) as pool:
                sent += sum(pool.map(lambda g: _send_lane(rt, notifier, g, tick), groups))
    return sent


def kick(rt: Runtime, notifier: Notifier, team_id: str, now: dt.datetime | None = None) -> int:
    """Send what a request just wrote right away rather than at the next tick; what a hook
    queues on the way (e.g. the question after a delivery) goes in the same call. Rows that
    are failing are left to the workers and their backoff."""
    return send_due(
        rt, notifier, now or clock.now(), team_id=team_id, fresh_only=True, rounds=KICK_ROUNDS
    )


WAKE_CHANNEL = "ft_outbox_kick"  # payload: a team id (send its outbox) or INBOX_WAKE
INBOX_WAKE = "inbox"  # carry out the clicks written down (`bot.inbox`); no team id is this
LISTENERS_TTL = 10.0  # seconds a "a worker listens" answer is trusted
_listeners: dict[str, tuple[float, bool]] = {}


def workers_listen(rt: Runtime) -> bool:
    """Does a worker of this database listen for wake-ups (checked every few seconds)?"""
    if rt.engine.dialect.name != "postgresql":
        return False
    where = str(rt.engine.url)
    known = _listeners.get(where)
    if known is not None and known[0] > time.monotonic():
        return known[1]
    with rt.engine.connect() as conn:
        found = bool(
            conn.execute(
                sa.text(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE "
                    "datname = current_database() AND query = :listen)"
                ),
                {"listen": f"LISTEN {WAKE_CHANNEL}"},
            ).scalar()
        )
    _listeners[where] = (time.monotonic() + LISTENERS_TTL, found)
    return found


def kick_soon(
    rt: Runtime, notifier: Notifier, team_id: str, now: dt.datetime | None = None
) -> None:
    """`kick`, off the request. Where a worker listens (PostgreSQL, `followthrough worker`),
    it is woken to send it (`NOTIFY`; see `listen_for_kicks`), so the web process spends its
    CPU on acks, not on Slack calls. Otherwise (SQLite, one process, no worker up) it is sent on
    the runtime's follow-up thread. Either way it is coalesced per workspace — a burst of
    clicks is one or two sends of the outbox, not one per click — and what a kick leaves (a
    busy lane, a failure) the workers' ticks send. Without `now` (a request) the send reads
    the clock when it runs, so what the hooks write on the way is due by then; a `now` is a
    caller's own clock (`tick --now`, tests) and is kept."""
    if workers_listen(rt):
        try:
            with rt.engine.connect() as conn:
                conn.execute(sa.select(sa.func.pg_notify(WAKE_CHANNEL, team_id)))
                conn.commit()
            return
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not wake a worker (%s); sending here", type(exc).__name__)

    def send() -> None:
        kick(rt, notifier, team_id, now or clock.now())

    rt.soon(("outbox", team_id), send)


Carrier = Callable[[Runtime, Notifier], object]


class KickListener:
    """A worker's thread that sends a workspace's outbox the moment a web process asks
    (`kick_soon`), on this process's follow-up thread. A lost connection is opened again;
    nothing is lost meanwhile (the ticks send what is due)."""

    def __init__(self, rt: Runtime, notifier: Notifier, carry_out: Carrier | None = None) -> None:
        self.rt, self.notifier, self.carry_out = rt, notifier, carry_out
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="ft-outbox-wake", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.rt.engine.raw_connection()
                try:
                    conn: Any = raw.driver_connection
                    conn.autocommit = True
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            if note.payload == INBOX_WAKE:
                                self.rt.soon(INBOX_WAKE, self._carrier())
                            else:
                                key = ("outbox", note.payload)
                                self.rt.soon(key, self._sender(note.payload))
                finally:
                    raw.invalidate()  # a LISTENing connection never goes back to the pool
            except Exception as exc:  # noqa: BLE001 — keep listening; the ticks cover the gap
                log.warning("outbox wake-ups: %s; listening again in 5 s", type(exc).__name__)
                self._stop.wait(5)

    def _sender(self, team_id: str) -> Callable[[], object]:
        return lambda: kick(self.rt, self.notifier, team_id, clock.now())

    def _carrier(self) -> Callable[[], object]:
        carry = self.carry_out or (lambda rt, notifier: 0)
        return lambda: carry(self.rt, self.notifier)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


def listen_for_kicks(
    rt: Runtime, notifier: Notifier, carry_out: Carrier | None = None
) -> KickListener | None:
    """Start a worker's `KickListener` (PostgreSQL only: SQLite has no LISTEN);
    `carry_out` runs on an INBOX_WAKE (`bot.inbox.scheduled.carry_out_due`)."""
    if rt.engine.dialect.name != "postgresql":
        return None
    listener = KickListener(rt, notifier, carry_out)
    listener.thread.start()
    return listener


def _send_lane(
    rt: Runtime, notifier: Notifier, lane: list[tuple[OutboundMessage, int]], tick: _Tick
) -> int:
    sent, cooling = 0, False
    for n, (row, token) in enumerate(sorted(lane, key=lambda rt_: rt_[0].id or 0)):
        if cooling or n >= LANE_PER_TICK:
            with autocommit(rt.engine) as conn:
                ob.settle_retry(
                    conn,
                    row.id or 0,
                    token,
                    tick.current() + dt.timedelta(seconds=1),
                    row.error or "",
                    maybe_sent=row.maybe_sent,
                    now=tick.current(),
                    failed=False,  # its lane's turn passing is not a failure
                )
            continue
        outcome = _send_one(rt, notifier, row, token, tick)
        sent += outcome == "sent"
        cooling = outcome == "cooling"
    return sent


def _send_one(
    rt: Runtime, notifier: Notifier, row: OutboundMessage, token: int, tick: _Tick
) -> str:
    if row.op == "update":
        return _update(rt, notifier, row, token, tick)
    if row.op == "email":
        return _email(rt, notifier, row, token, tick)
    return _post(rt, notifier, row, token, tick)


def _failed(
    rt: Runtime,
    row: OutboundMessage,
    token: int,
    tick: _Tick,
    exc: DeliveryError,
    *,
    maybe_sent: bool,
) -> str:
    """Slack (or SMTP) said no. Retryable: back to pending after a backoff, keeping the
    look-first mark if the message may have landed. Permanent: failed, and the kind's
    on_failed hook runs."""
    now = tick.current()
    code = exc.code or str(exc)
    with session_scope(rt.engine) as s:
        if exc.retryable:
            if exc.retry_after is not None:
                retry = dt.timedelta(seconds=exc.retry_after)
            elif exc.uncertain:
                # no answer: look again once a post in flight has surely landed or died (a
                # lease later), then back off if Slack keeps not answering
                retry = max(
                    lease_for(rt.settings),
                    backoff(row.failures + 1, base=2 * rt.settings.slack_timeout_seconds),
                )
            else:
                retry = backoff(row.failures + 1)
            ob.settle_retry(
                s, row.id or 0, token, now + retry, code, maybe_sent=maybe_sent, now=now
            )
            log.warning("outbox %s: %s; retry in %ss", row.kind, code, int(retry.total_seconds()))
            return "cooling"
        if ob.settle_final(s, row.id or 0, token, "fail", code, now):
            row.error = code
            hook = hooks_for(row.kind).on_failed
            if hook is not None:
                hook(s, row, SendContext(rt.settings, tick.current()))
        log.warning("outbox %s not deliverable: %s", row.kind, code)
    return "failed"


def _content(rt: Runtime, row: OutboundMessage, now: dt.datetime) -> tuple[str, list[dict]] | None:
    render = hooks_for(row.kind).render
    if render is None:
        return row.text, row.blocks
    with session_scope(rt.engine) as s:
        return render(s, row, SendContext(rt.settings, now))


def _cancel(rt: Runtime, row: OutboundMessage, token: int, tick: _Tick, why: str) -> str:
    with autocommit(rt.engine) as conn:
        ob.settle_final(conn, row.id or 0, token, "drop", why, tick.current())
    return "cancelled"


def _record_sent(
    rt: Runtime,
    notifier: Notifier,
    row: OutboundMessage,
    token: int,
    tick: _Tick,
    posted: Posted | None,
) -> str:
    channel, ts = (posted.channel, posted.ts) if posted else (None, None)
    with session_scope(rt.engine) as s:
        outcome = ob.settle_sent(s, row.id or 0, token, row.version, channel, ts, tick.current())
        if outcome == "sent":
            row.sent_channel, row.sent_ts = channel, ts
            hook = hooks_for(row.kind).on_sent
            if hook is not None:
                hook(s, row, SendContext(rt.settings, tick.current()))
            return "sent"
        current = s.get(OutboundMessage, row.id)
    if outcome == "lost" and row.op == "post" and posted is not None:
        _drop_late_copy(notifier, row, current, posted)
    return outcome


def _drop_late_copy(
    notifier: Notifier, row: OutboundMessage, current: OutboundMessage | None, posted: Posted
) -> None:
    """We lost our claim while posting. If the new owner recorded another message, ours is a
    second copy: remove it. If it recorded ours (adopted it) or is still at work, leave it."""
    if (
        current is None
        or current.status != OutboxStatus.SENT
        or current.sent_ts in (None, posted.ts)
    ):
        return
    log.warning("outbox %s: removing a late second copy", row.kind)
    try:
        notifier.delete(row.team_id, posted.channel, posted.ts)
    except DeliveryError as exc:
        log.warning("outbox %s: could not remove the late copy: %s", row.kind, exc.code)


def _post(rt: Runtime, notifier: Notifier, row: OutboundMessage, token: int, tick: _Tick) -> str:
    try:
        channel = row.sent_channel or row.channel
        if channel is None:
            channel = notifier.open_dm(row.team_id, row.user_id or "")
        if row.maybe_sent and row.posting_at is not None:
            started = row.posting_at.replace(tzinfo=row.posting_at.tzinfo or dt.UTC)
            oldest = (started - HISTORY_MARGIN).timestamp()
            found = notifier.find_posted(row.team_id, channel, row.key, oldest)
            if found:
                for extra in found[1:]:  # never expected; if it happens, one live copy stays
                    notifier.delete(row.team_id, extra.channel, extra.ts)
                log.info("outbox %s: adopted the message an earlier attempt posted", row.kind)
                return _record_sent(rt, notifier, row, token, tick, found[0])
    except DeliveryError as exc:
        return _failed(rt, row, token, tick, exc, maybe_sent=row.maybe_sent)
    content = _content(rt, row, tick.current())
    if content is None:
        return _cancel(rt, row, token, tick, "nothing to say any more")
    lease = lease_for(rt.settings)
    with autocommit(rt.engine) as conn:
        if not ob.fence(conn, row.id or 0, token, tick.current() + lease, channel):
            return "lost"
    text, blocks = content
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": row.key, "try": token}}
    try:
        posted = notifier.post(
            row.team_id, channel, text, blocks or None, thread_ts=row.thread_ts, metadata=metadata
        )
    except DeliveryError as exc:
        return _failed(rt, row, token, tick, exc, maybe_sent=exc.uncertain)
    return _record_sent(rt, notifier, row, token, tick, posted)


def _update(rt: Runtime, notifier: Notifier, row: OutboundMessage, token: int, tick: _Tick) -> str:
    with autocommit(rt.engine) as conn:
        target = ob.posted_at(conn, row.team_id, row.ref_key or "")
    if target is None or target.status in (OutboxStatus.FAILED, OutboxStatus.CANCELLED):
        return _cancel(rt, row, token, tick, "the message to edit was never posted")
    if target.status != OutboxStatus.SENT or not target.sent_channel or not target.sent_ts:
        with autocommit(rt.engine) as conn:  # the post is still on its way: edit after it
            ob.settle_retry(
                conn,
                row.id or 0,
                token,
                tick.current() + dt.timedelta(seconds=2),
                "waiting for the post",
                maybe_sent=False,
                now=tick.current(),
                failed=False,
            )
        return "waiting"
    content = _content(rt, row, tick.current())
    if content is None:
        return _cancel(rt, row, token, tick, "nothing to say any more")
    with autocommit(rt.engine) as conn:
        if not ob.renew(conn, row.id or 0, token, tick.current() + lease_for(rt.settings)):
            return "lost"
    text, blocks = content
    try:
        notifier.update(row.team_id, target.sent_channel, target.sent_ts, text, blocks)
    except DeliveryError as exc:
        if exc.code in {"message_not_found", "cant_update_message", "channel_not_found"}:
            return _cancel(rt, row, token, tick, exc.code or "gone")
        return _failed(rt, row, token, tick, exc, maybe_sent=False)
    return _record_sent(rt, notifier, row, token, tick, None)


def _email(rt: Runtime, notifier: Notifier, row: OutboundMessage, token: int, tick: _Tick) -> str:
    """SMTP has no way to ask "did that arrive?": an email whose send was interrupted is
    never sent again automatically; its on_failed hook tells the person to check."""
    if row.maybe_sent:
        uncertain = DeliveryError(
            "the mail server may or may not have taken it", retryable=False, code="email_uncertain"
        )
        return _failed(rt, row, token, tick, uncertain, maybe_sent=False)
    with autocommit(rt.engine) as conn:
        if not ob.fence(conn, row.id or 0, token, tick.current() + lease_for(rt.settings), None):
            return "lost"
    d = row.detail
    try:
        send_email(
            rt.settings.smtp_url or "",
            d.get("sender") or "followthrough@localhost",
            d["to"],
            d.get("subject") or "",
            row.text,
        )
    except EmailError as exc:
        smtp = DeliveryError(str(exc), retryable=exc.retryable, code="smtp")
        return _failed(rt, row, token, tick, smtp, maybe_sent=not exc.retryable and False)
    return _record_sent(rt, notifier, row, token, tick, Posted(channel="email", ts="email"))


DUE_JOBS = [("outbox.send", send_due)]
