"""Gather the rows for a period, compute the report, and deliver it (DM + charts)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import clock
from bot.db import session_scope
from bot.models import Account, Case, Commitment, CommitmentStatus, Person, Playbook
from bot.notify import DeliveryError, Notifier
from bot.reports import charts
from bot.reports.blocks import report_message, upload_failed_note
from bot.reports.metrics import CaseRow, CommitmentRow, Period, Report, compute

log = logging.getLogger(__name__)
USAGE = (
    "Try `/cs-report` (last 30 days), `/cs-report 7d`, `/cs-report 12w`, "
    "`/cs-report this month`, `/cs-report last month`, `/cs-report this quarter`, "
    "`/cs-report all` or `/cs-report 2026-01-01..2026-03-31`."
)


class PeriodError(ValueError):
    pass


def parse_period(text: str, today: dt.date) -> Period:
    """Pure: the period a person typed (default: the last 30 days, today included)."""
    t = " ".join((text or "").lower().split())
    if t in ("", "30d", "month"):
        return Period(today - dt.timedelta(days=29), today)
    if m := re.fullmatch(r"([0-9]{1,4})\s*([dw])", t):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        if days < 1:
            raise PeriodError(f"'{text}' is an empty period. {USAGE}")
        return Period(today - dt.timedelta(days=days - 1), today)
    first = today.replace(day=1)
    if t == "this month":
        return Period(first, today)
    if t == "last month":
        start = first - relativedelta(months=1)
        return Period(start, first - dt.timedelta(days=1))
    if t == "this quarter":
        return Period(first.replace(month=3 * ((today.month - 1) // 3) + 1), today)
    if t == "all":
        return Period(dt.date(2000, 1, 1), today)
    date = r"([0-9]{4}-[0-9]{2}-[0-9]{2})"  # ASCII digits: \d also takes '١' and '٢'
    if m := re.fullmatch(date + r"\s*(?:\.\.|to|–|-{1,2}>?)\s*" + date, t):
        try:
            since, until = (dt.date.fromisoformat(g) for g in m.groups())
        except ValueError:
            raise PeriodError(f"'{text}' has a date that doesn't exist. {USAGE}") from None
        if until < since:
            raise PeriodError(f"'{text}' ends before it starts. {USAGE}")
        return Period(since, until)
    raise PeriodError(f"I don't understand the period '{text[:60]}'. {USAGE}")


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period's first and after-last instants (UTC), its days counted in its timezone."""
    zone = ZoneInfo(period.tz)
    start = dt.datetime.combine(period.since, dt.time(0), zone)
    end = dt.datetime.combine(period.until + dt.timedelta(days=1), dt.time(0), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A stored (UTC) moment in the period's timezone, so its date is the team's day."""
    return clock.as_utc(moment).astimezone(zone)


def _link(playbook: Playbook | None, case: Case) -> str:
    definition = playbook.definition if playbook else {}
    return str(definition.get("link") or definition.get("url") or "")


def iter_case_rows(
    session: Session, team_id: str, period: Period, chunk: int = 500
) -> Iterator[CaseRow]:
    """Cases opened in the period, oldest first, read in chunks (CSV export streams them)."""
    start, end = _bounds(period)
    zone = ZoneInfo(period.tz)
    last_id = 0
    accounts: dict[int, str] = {}
    books: dict[int, Playbook] = {}
    while True:
        batch = list(
            session.exec(
                select(Case)
                .where(
                    Case.team_id == team_id,
                    col(Case.opened_at) >= start,
                    col(Case.opened_at) < end,
                    col(Case.id) > last_id,
                )
                .order_by(col(Case.id))
                .limit(chunk)
            )
        )
        if not batch:
            return
        need_a = {c.account_id for c in batch} - set(accounts)
        for a in session.exec(
            select(Account).where(Account.team_id == team_id, col(Account.id).in_(need_a or {-1}))
        ):
            accounts[a.id or 0] = a.name
        need_p = {c.playbook_id for c in batch} - set(books)
        for p in session.exec(
            select(Playbook).where(
                Playbook.team_id == team_id, col(Playbook.id).in_(need_p or {-1})
            )
        ):
            books[p.id or 0] = p
        for c in batch:
            book = books.get(c.playbook_id)
            yield CaseRow(
                id=c.id or 0,
                risk=c.risk_key.replace("_", " "),
                playbook=book.name if book else c.risk_key,
                customer=accounts.get(c.account_id, "?"),
                status=c.status,
                outcome=c.outcome,
                total_steps=c.total_steps,
                resolution_step=c.resolution_step,
                opened=_local(c.opened_at, zone),
                resolved=_local(c.resolved_at, zone) if c.resolved_at else None,
                context=c.context,
                notes=c.notes,
                playbook_link=_link(book, c),
                owner=c.owner_user_id,
            )
        last_id = batch[-1].id or 0


def commitment_rows(session: Session, team_id: str, period: Period) -> list[CommitmentRow]:
    start, end = _bounds(period)
    zone = ZoneInfo(period.tz)
    rows = list(
        session.exec(
            select(Commitment).where(
                Commitment.team_id == team_id,
                col(Commitment.status).in_((CommitmentStatus.OPEN, CommitmentStatus.DONE)),
                col(Commitment.created_at) >= start,
                col(Commitment.created_at) < end,
            )
        )
    )
    names = {
        p.slack_user_id: p.real_name or p.name
        for p in session.exec(select(Person).where(Person.team_id == team_id))
    }
    accounts = {
        a.id: a.name
        for a in session.exec(
            select(Account).where(
                Account.team_id == team_id,
                col(Account.id).in_({c.account_id for c in rows if c.account_id} or {-1}),
            )
        )
    }
    return [
        CommitmentRow(
            id=c.id or 0,
            owner=names.get(c.owner_user_id or "", c.owner_name or "(no owner)")
            if c.owner_user_id
            else (c.owner_name or "(no owner)"),
            account=accounts.get(c.account_id or 0, "(no account)"),
            made=_local(c.created_at, zone).date(),
            due=c.due_date,
            done=_local(c.done_at, zone).date() if c.done_at else None,
            status=c.status,
        )
        for c in rows
    ]


def build_report(engine: Engine, team_id: str, period: Period, today: dt.date) -> Report:
    from bot.signals.service import funnel

    with session_scope(engine) as session:
        cases = list(iter_case_rows(session, team_id, period))
        commits = commitment_rows(session, team_id, period)
        signals = funnel(session, team_id, *_bounds(period))
    report = compute(period, cases, commits, today)
    report.signals = signals
    return report


def deliver(notifier: Notifier, team_id: str, user_id: str, report: Report) -> list[str]:
    """DM the report, then its charts in the thread; returns problems (upload refused…).
    The text always arrives; a refused upload adds a note instead of losing the report."""
    text, blocks = report_message(report)
    posted = notifier.dm(team_id, user_id, text, blocks)
    problems = []
    for filename, title, png in charts.all_charts(report):
        try:
            notifier.upload(team_id, posted.channel, filename, png, title, thread_ts=posted.ts)
        except DeliveryError as exc:
            log.warning("chart upload refused: %s", exc.code)
            problems.append(f"{title}: {exc.code or exc}")
    if problems:
        notifier.post(team_id, posted.channel, upload_failed_note(problems), thread_ts=posted.ts)
    return problems


def send_report(
    engine: Engine, notifier: Notifier, team_id: str, user_id: str, period: Period, today: dt.date
) -> list[str]:
    return deliver(notifier, team_id, user_id, build_report(engine, team_id, period, today))
