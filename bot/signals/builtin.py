"""Built-in signals: what the app already knows, written as signals so the same rules read
them (source `followthrough`).

- `champion_changed`, `csm_changed`, `ae_changed`, `renewal_date_changed`, `arr_changed`:
  the CRM sync's audit rows (contracts.md §2), read after a cursor — only new rows are read;
- `renewal_in_days`: days to `Account.renewal_date`, at 120/90/60/30/14/7 days;
- `days_since_call`: days since the account's last call read by capture, at 4/6/8/12 weeks;
- `commitment_overdue`: a confirmed commitment past its due date (once per commitment).

The daily three run once per team per day. Each signal's idempotency key names what it is
about, so running a scan twice stores nothing twice.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bot import clock
from bot.models import Account, AuditEvent, Commitment, CommitmentStatus, Transcript
from bot.signals.models import SignalCursor
from bot.signals.payload import Parsed

SOURCE = "followthrough"
RENEWAL_MARKS = (120, 90, 60, 30, 14, 7)
CALL_MARKS_WEEKS = (4, 6, 8, 12)
CRM_FIELDS = {
    "champion": "champion_changed",
    "csm_user_id": "csm_changed",
    "ae_user_id": "ae_changed",
    "renewal_date": "renewal_date_changed",
    "arr": "arr_changed",
}
FIRST_LOOKBACK = dt.timedelta(days=30)


def account_key(account_id: int) -> str:
    return f"account:{account_id}"


def _signal(
    key: str,
    account_id: int,
    kind: str,
    at: dt.datetime,
    *,
    value: float | None = None,
    previous: float | None = None,
    text: str | None = None,
    **context: object,
) -> Parsed:
    return Parsed(
        idempotency_key=f"builtin:{key}"[:200],
        source=SOURCE,
        account_key=account_key(account_id),
        account_keys=(account_key(account_id),),
        signal_type=kind,
        value=value,
        previous_value=previous,
        value_text=text[:200] if text else None,
        unit=None,
        occurred_at=at,
        context={k: v for k, v in context.items() if v is not None},
    )


def cursor(session: Session, team_id: str, name: str) -> SignalCursor:
    row = session.exec(
        select(SignalCursor).where(SignalCursor.team_id == team_id, SignalCursor.name == name)
    ).first()
    return row or SignalCursor(team_id=team_id, name=name, position="")


def _number(text: object) -> float | None:
    try:
        return float(str(text))
    except (TypeError, ValueError):
        return None


def crm_changes(
    session: Session, team_id: str, now: dt.datetime, limit: int = 1000
) -> list[Parsed]:
    """CRM field changes audited since the cursor (which then moves past them)."""
    cur = cursor(session, team_id, "audit")
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    after = int(cur.position or 0)
    top = session.execute(sa.select(func.max(table.c.id))).scalar() or 0
    if top <= after:
        return []
    top = min(top, after + 50_000)
    stmt = select(AuditEvent).where(
        col(AuditEvent.id) > after,
        col(AuditEvent.id) <= top,
        AuditEvent.team_id == team_id,
        AuditEvent.action == "crm_field_changed",
    )
    if not cur.position:
        stmt = stmt.where(col(AuditEvent.at) >= now - FIRST_LOOKBACK)
    rows = list(session.exec(stmt.order_by(col(AuditEvent.id)).limit(limit)))
    if len(rows) == limit:
        top = rows[-1].id or top  # more to read next tick
    out = []
    for ev in rows:
        d = ev.detail or {}
        kind = CRM_FIELDS.get(str(d.get("field")))
        if kind is None or ev.entity != "account" or ev.entity_id is None:
            continue
        numeric = kind == "arr_changed"
        out.append(
            _signal(
                f"audit:{ev.id}",
                ev.entity_id,
                kind,
                ev.at,
                value=_number(d.get("new")) if numeric else None,
                previous=_number(d.get("old")) if numeric else None,
                text=None if numeric else (str(d["new"]) if d.get("new") is not None else "(none)"),
                old=d.get("old"),
                new=d.get("new"),
                crm=d.get("source") or ev.actor,
                reason=f"{d.get('field')} changed in the CRM: "
                f"{d.get('old') or '—'} → {d.get('new') or '—'}",
            )
        )
    cur.position, cur.updated_at = str(top), now
    session.add(cur)
    return out


def _mark(days: int, marks: tuple[int, ...]) -> int | None:
    """The smallest mark `days` has reached (120 → 120, 85 → 90, 3 → 7)."""
    passed = [m for m in marks if days <= m]
    return min(passed) if passed else None


def daily(session: Session, team_id: str, now: dt.datetime) -> list[Parsed] | None:
    """Renewal windows, weeks without a call, overdue commitments — once per team per day
    (None when today's scan already ran)."""
    cur = cursor(session, team_id, "daily")
    today = now.date()
    if cur.position == today.isoformat():
        return None
    out: list[Parsed] = []
    # weeks without a call count from when Followthrough started watching, not from an
    # account's import date: a new install must not call every quiet account a risk
    started = cursor(session, team_id, "watching_since")
    if not started.position:
        started.position = now.isoformat()
        session.add(started)
    watching = dt.datetime.fromisoformat(started.position)
    accounts = list(session.exec(select(Account).where(Account.team_id == team_id)))
    calls = Transcript.__table__  # type: ignore[attr-defined]
    last_call: dict[int, dt.datetime] = {
        int(a): clock.as_utc(at)
        for a, at in session.execute(
            sa.select(calls.c.account_id, func.max(calls.c.created_at))
            .where(calls.c.team_id == team_id, calls.c.account_id.is_not(None))
            .group_by(calls.c.account_id)
        ).all()
    }
    for a in accounts:
        aid = a.id or 0
        if a.renewal_date:
            days = (a.renewal_date - today).days
            mark = _mark(days, RENEWAL_MARKS) if days >= 0 else None
            if mark is not None:
                out.append(
                    _signal(
                        f"renewal:{aid}:{a.renewal_date}:{mark}",
                        aid,
                        "renewal_in_days",
                        now,
                        value=days,
                        renewal_date=str(a.renewal_date),
                        reason=f"renews {a.renewal_date:%b %d, %Y}",
                    )
                )
        last = last_call.get(aid)
        since = last or a.created_at
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            since = max(since, watching)
            days = (now - since).days
            weeks = [w for w in CALL_MARKS_WEEKS if days >= 7 * w]
            if weeks:
                out.append(
                    _signal(
                        f"no_call:{aid}:{since.date()}:{max(weeks)}",
                        aid,
                        "days_since_call",
                        now,
                        value=days,
                        last_call=str(last.date()) if last else None,
                        reason=f"no call read since {since:%b %d}" if last else "no call read yet",
                    )
                )
    for c in session.exec(
        select(Commitment).where(
            Commitment.team_id == team_id,
            Commitment.status == CommitmentStatus.OPEN,
            col(Commitment.due_date) < today,
            col(Commitment.account_id).is_not(None),
        )
    ):
        due = c.due_date or today
        out.append(
            _signal(
                f"overdue:{c.id}",
                c.account_id or 0,
                "commitment_overdue",
                dt.datetime.combine(due + dt.timedelta(days=1), dt.time(0), dt.UTC),
                value=(today - due).days,
                text=None,
                commitment=c.id,
                reason=f"“{c.text[:120]}” was due {due:%b %d}",
            )
        )
    cur.position, cur.updated_at = today.isoformat(), now
    session.add(cur)
    return out
