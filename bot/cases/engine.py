"""The step engine's scheduled work: steps fall due, reach their assignee, get chased.

Everything due lives in `CaseStep.due_at` — "when must a worker next look at this row":
  scheduled → when the step falls due;  claimed / sending → when the claim's lease expires;
  awaiting  → when the reminder (then the escalation) is due; NULL → nothing more to do.
So one index, (status, due_at), answers every "what is due now" question, and a tick with
nothing due is a single index probe per job.

Claims are atomic: `UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING`
moves due_at to the lease and bumps `attempts`, which then serves as the claim token: only
the claimer whose token still matches may record the outcome, in the same transaction as the
Slack `ts`. A worker killed after claiming leaves the row to be re-claimed when the lease
expires; Slack saying 429/5xx puts the row back with a later due_at — never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from bot import audit
from bot.cases import step_messages as msgs
from bot.cases.records import (
    CaseError,
    Outbox,
    assignee_of,
    get_case,
    owner_of,
    person,
    step_view,
    steps_of,
    tz_of,
)
from bot.cases.steps import Delivery, delivery_for, next_case_state, next_step_state
from bot.cases.workhours import (
    WorkHours,
    add_working_hours,
    is_working_moment,
    next_working_moment,
)
from bot.config import ConfigError, Settings, get_settings
from bot.db import session_scope
from bot.email import EmailError, send_email, split_subject
from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.notify import DeliveryError, Notifier
from bot.runtime import Runtime
from bot.workspaces.service import active_only

log = logging.getLogger(__name__)
S = StepStatus
CLAIM_BATCH = 500
PER_CHANNEL_PER_TICK = 3  # Slack allows ~1 post/s per channel with short bursts
POST_THREADS = 8  # different assignees' DMs are posted in parallel
MAX_BACKOFF = dt.timedelta(minutes=30)
STEP_TABLE = CaseStep.__table__  # type: ignore[attr-defined]
CASE_TABLE = Case.__table__  # type: ignore[attr-defined]


def lease_seconds(settings: Settings) -> int:
    return settings.step_lease_seconds


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … capped: Slack (or SMTP) gets time to recover."""
    return min(dt.timedelta(seconds=30 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


# --- claims -------------------------------------------------------------------------------


def claim(
    session: OrmSession,
    statuses: Iterable[str],
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    *,
    to_status: str | None = None,
    running_only: bool = True,
) -> list[tuple[int, int]]:
    """Atomically take up to `limit` due rows; returns (step id, claim token) pairs."""
    t, c = STEP_TABLE, CASE_TABLE
    pick = sa.select(t.c.id).where(
        t.c.status.in_(list(statuses)), t.c.due_at <= now, active_only(t.c.team_id)
    )
    if running_only:
        pick = pick.select_from(t.join(c, c.c.id == t.c.case_id)).where(
            c.c.status == CaseStatus.RUNNING
        )
    pick = pick.order_by(t.c.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=t)
    values: dict[str, object] = {
        "due_at": lease_until,
        "lease_until": lease_until,
        "attempts": t.c.attempts + 1,
        "updated_at": now,
    }
    if to_status:
        values["status"] = to_status
    stmt = sa.update(t).where(t.c.id.in_(pick)).values(**values).returning(t.c.id, t.c.attempts)
    return [(int(r[0]), int(r[1])) for r in session.execute(stmt).all()]


def claim_due_steps(
    session: OrmSession, now: dt.datetime, lease_until: dt.datetime, limit: int = CLAIM_BATCH
) -> list[tuple[int, int]]:
    """Steps whose time has come (or whose claim's lease expired) → claimed."""
    return claim(session, (S.SCHEDULED, S.CLAIMED), now, lease_until, limit, to_status=S.CLAIMED)


def settle(session: OrmSession, step_id: int, token: int, expected: str, **values: object) -> bool:
    """Record a claim's outcome only if the claim is still ours (status and token unchanged)."""
    t = STEP_TABLE
    result = session.execute(
        sa.update(t)
        .where(t.c.id == step_id, t.c.status == expected, t.c.attempts == token)
        .values(**values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


# --- starting and scheduling ------------------------------------------------------------


def schedule_step(
    session: Session,
    case: Case,
    step: CaseStep,
    now: dt.datetime,
    settings: Settings,
    *,
    actor: str = "system",
    with_delay: bool = True,
) -> dt.datetime:
    """planned → scheduled at now + delay, moved into the assignee's working hours."""
    before = step.status
    step.status = next_step_state("schedule", before)
    tz = tz_of(session, case.team_id, assignee_of(case, step), settings)
    raw = now + dt.timedelta(seconds=step.delay_seconds if with_delay else 0)
    step.due_at = next_working_moment(raw, tz, WorkHours.from_settings(settings))
    step.lease_until = step.reminded_at = step.escalated_at = None
    step.updated_at = now
    case.current_step = step.position
    case.updated_at = now
    session.add(step)
    session.add(case)
    audit.record(
        session,
        case.team_id,
        actor,
        "case_step",
        step.id,
        "scheduled",
        from_state=before,
        to_state=step.status,
        case_id=case.id,
        position=step.position,
        due_at=step.due_at.isoformat(),
    )
    return step.due_at


def _settings() -> Settings:
    """Callers should pass rt.settings; the environment's settings are the fallback."""
    try:
        return get_settings()
    except ConfigError:
        return Settings.model_construct()


def start_case(
    session: Session,
    team_id: str,
    case_id: int,
    actor: str,
    now: dt.datetime,
    *,
    settings: Settings | None = None,
) -> Case:
    """Start a planned case: running, step 1 scheduled after its delay in working hours.

    A second Start (double click, two people) finds the case no longer planned: CaseError.
    """
    settings = settings or _settings()
    case = get_case(session, team_id, case_id)
    next_case_state("start", case.status)
    steps = [s for s in steps_of(session, case) if s.status == S.PLANNED]
    if not steps:
        raise CaseError(f"Case #{case_id} has no planned steps to run.")
    won = session.execute(
        sa.update(CASE_TABLE)
        .where(
            CASE_TABLE.c.id == case_id,
            CASE_TABLE.c.team_id == team_id,
            CASE_TABLE.c.status == CaseStatus.PLANNED,
        )
        .values(status=CaseStatus.RUNNING, started_at=now, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise CaseError(f"Case #{case_id} was already started.")
    session.refresh(case)
    case.total_steps = len(steps)  # the steps that will run: dropped ones are not counted
    audit.record(
        session,
        team_id,
        actor,
        "case",
        case.id,
        "started",
        from_state=CaseStatus.PLANNED,
        to_state=CaseStatus.RUNNING,
    )
    schedule_step(session, case, steps[0], now, settings, actor=actor)
    return case


# --- posting due steps ------------------------------------------------------------------


@dataclass
class _Due:
    step_id: int
    token: int
    team_id: str
    assignee: str | None
    view: msgs.StepView
    reminder_at: dt.datetime | None = None
    release_to: dt.datetime | None = None  # off hours / channel busy: put back until then


def _prepare_due(
    session: Session, claimed: list[tuple[int, int]], now: dt.datetime, settings: Settings
) -> list[_Due]:
    tokens = dict(claimed)
    rows = session.exec(select(CaseStep).where(col(CaseStep.id).in_(list(tokens))))
    hours = WorkHours.from_settings(settings)
    per_channel: Counter[str] = Counter()
    cases: dict[int, Case] = {}
    out: list[_Due] = []
    for step in sorted(rows, key=lambda s: (s.due_at or now, s.id or 0)):
        if step.status != S.CLAIMED or step.attempts != tokens.get(step.id or 0):
            continue  # closed or skipped since the claim: nothing to post
        case = cases.get(step.case_id) or session.get(Case, step.case_id)
        if case is None or case.team_id != step.team_id:
            continue
        cases[step.case_id] = case
        who = assignee_of(case, step)
        tz = tz_of(session, step.team_id, who, settings)
        view = step_view(session, case, step)
        view = replace(view, status=S.AWAITING)
        due = _Due(step.id or 0, tokens[step.id or 0], step.team_id, who, view)
        if not is_working_moment(now, tz, hours):
            due.release_to = next_working_moment(now, tz, hours)
        elif per_channel[f"{step.team_id}:{who}"] >= PER_CHANNEL_PER_TICK:
            due.release_to = now  # next tick
        else:
            per_channel[f"{step.team_id}:{who}"] += 1
            due.reminder_at = add_working_hours(now, settings.reminder_hours, tz, hours)
        out.append(due)
    return out


def _release(
    rt: Runtime, due: _Due, when: dt.datetime, now: dt.datetime, error: str | None = None
) -> None:
    with session_scope(rt.engine) as s:
        if (
            settle(
                s,
                due.step_id,
                due.token,
                S.CLAIMED,
                status=S.SCHEDULED,
                due_at=when,
                lease_until=None,
                updated_at=now,
            )
            and error
        ):
            audit.record(
                s,
                due.team_id,
                "system",
                "case_step",
                due.step_id,
                "dm_failed",
                from_state=S.CLAIMED,
                to_state=S.SCHEDULED,
                error=error,
                retry_at=when.isoformat(),
            )


def post_due_steps(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """Claim due steps and DM each assignee; returns how many DMs were posted."""
    settings = rt.settings
    lease_until = now + dt.timedelta(seconds=lease_seconds(settings))
    with session_scope(rt.engine) as s:
        claimed = claim_due_steps(s, now, lease_until)
    if not claimed:
        return 0
    with session_scope(rt.engine) as s:
        batch = _prepare_due(s, claimed, now, settings)
    groups: dict[str, list[_Due]] = {}
    for due in batch:  # one DM channel per assignee: its posts stay in order, one at a time
        groups.setdefault(f"{due.team_id}:{due.assignee}", []).append(due)
    if len(groups) == 1:
        return _post_group(rt, notifier, next(iter(groups.values())), now)
    with ThreadPoolExecutor(
        max_workers=min(POST_THREADS, len(groups)), thread_name_prefix="ft-steps"
    ) as pool:
        return sum(pool.map(lambda group: _post_group(rt, notifier, group, now), groups.values()))


def _post_group(rt: Runtime, notifier: Notifier, group: list[_Due], now: dt.datetime) -> int:
    posted, cooling = 0, False
    awaiting: dict[int, str] = {}  # cases whose card now shows a step awaiting a decision
    for due in group:
        if due.release_to is not None or cooling or due.assignee is None:
            _release(
                rt,
                due,
                due.release_to or now + dt.timedelta(seconds=1 if due.assignee else 3600),
                now,
                None if due.assignee else "nobody to DM",
            )
            continue
        text, blocks = msgs.step_dm(due.view)
        try:
            dm = notifier.dm(due.team_id, due.assignee, text, blocks)
        except DeliveryError as exc:
            cooling = exc.retryable  # Slack is busy for this channel: the rest wait too
            retry = backoff(due.token) if exc.retryable else dt.timedelta(hours=1)
            _release(rt, due, now + retry, now, exc.code or str(exc))
            continue
        with session_scope(rt.engine) as s:
            ok = settle(
                s,
                due.step_id,
                due.token,
                S.CLAIMED,
                status=S.AWAITING,
                dm_channel=dm.channel,
                dm_ts=dm.ts,
                due_at=due.reminder_at,
                lease_until=None,
                updated_at=now,
            )
            if ok:
                audit.record(
                    s,
                    due.team_id,
                    "system",
                    "case_step",
                    due.step_id,
                    "dm_posted",
                    from_state=S.CLAIMED,
                    to_state=S.AWAITING,
                    to=due.assignee,
                    ts=dm.ts,
                )
        if ok:
            posted += 1
            awaiting[due.view.case_id] = due.team_id
        else:  # the case was closed or the step skipped while we were posting
            _quietly(
                notifier.update,
                due.team_id,
                dm.channel,
                dm.ts,
                *msgs.step_settled(due.view, "No longer needed — the case moved on."),
            )
    for case_id, team_id in awaiting.items():
        Outbox(case_id).flush(notifier, team_id, rt.engine)
    return posted


def _quietly(fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except DeliveryError as exc:
        log.warning("best-effort Slack call failed: %s", exc)


# --- reminders and escalations ----------------------------------------------------------


def send_followups(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """One reminder after STEP_REMINDER_AFTER working hours, then one escalation."""
    settings = rt.settings
    lease_until = now + dt.timedelta(seconds=lease_seconds(settings))
    with session_scope(rt.engine) as s:
        claimed = claim(s, (S.AWAITING,), now, lease_until, CLAIM_BATCH)
    done = 0
    for step_id, token in claimed:
        try:
            done += _follow_up(rt, notifier, step_id, token, now)
        except DeliveryError as exc:
            log.warning(
                "follow-up for step %s failed (%s); retried after the lease", step_id, exc.code
            )
    return done


def _follow_up(rt: Runtime, notifier: Notifier, step_id: int, token: int, now: dt.datetime) -> int:
    settings, hours = rt.settings, WorkHours.from_settings(rt.settings)
    with session_scope(rt.engine) as s:
        step = s.get(CaseStep, step_id)
        case = s.get(Case, step.case_id) if step else None
        if step is None or case is None:
            return 0
        team_id, view = step.team_id, step_view(s, case, step)
        who = assignee_of(case, step)
        tz = tz_of(s, team_id, who, settings)
        old = (step.dm_channel, step.dm_ts)
        reminded, escalated = step.reminded_at is not None, step.escalated_at is not None
        owner = owner_of(case)
        owner_person = person(s, team_id, owner)
        manager = owner_person.manager_user_id if owner_person else None
    if not reminded and who:
        text, blocks = msgs.step_dm(view, reminder=True)
        dm = notifier.dm(team_id, who, text, blocks)
        wait = max(0.0, settings.escalate_hours - settings.reminder_hours)
        with session_scope(rt.engine) as s:
            ok = settle(
                s,
                step_id,
                token,
                S.AWAITING,
                reminded_at=now,
                dm_channel=dm.channel,
                dm_ts=dm.ts,
                due_at=add_working_hours(now, wait, tz, hours),
                lease_until=None,
                updated_at=now,
            )
            if ok:
                audit.record(
                    s, team_id, "system", "case_step", step_id, "reminded", to=who, ts=dm.ts
                )
        if ok and old[0] and old[1]:
            _quietly(
                notifier.update,
                team_id,
                old[0],
                old[1],
                *msgs.step_settled(view, "⏰ Reminder posted below — decide there."),
            )
        elif not ok:
            _quietly(
                notifier.update,
                team_id,
                dm.channel,
                dm.ts,
                *msgs.step_settled(view, "Already decided — nothing to do."),
            )
        return int(ok)
    if not escalated:
        told = [u for u in dict.fromkeys([owner, manager]) if u]
        text, blocks = msgs.escalation(view, settings.escalate_hours, manager)
        for user_id in told:
            notifier.dm(team_id, user_id, text, blocks)
        with session_scope(rt.engine) as s:
            ok = settle(
                s,
                step_id,
                token,
                S.AWAITING,
                escalated_at=now,
                due_at=None,
                lease_until=None,
                updated_at=now,
            )
            if ok:
                audit.record(
                    s,
                    team_id,
                    "system",
                    "case_step",
                    step_id,
                    "escalated",
                    told=told,
                    waited_hours=settings.escalate_hours,
                )
        return int(ok)
    with session_scope(rt.engine) as s:
        settle(s, step_id, token, S.AWAITING, due_at=None, lease_until=None)
    return 0


# --- delivering a Yes -------------------------------------------------------------------


def _subject(case: Case, step: CaseStep, account: str) -> str:
    plan = (case.gathered or {}).get("plan") or []
    for meta in plan if isinstance(plan, list) else []:
        if isinstance(meta, dict) and meta.get("position") == step.position and meta.get("subject"):
            return str(meta["subject"])
    return f"{account}: {step.summary}"


def deliver(
    notifier: Notifier,
    settings: Settings,
    team_id: str,
    kind: Delivery,
    target: str,
    text: str,
    subject: str,
    sender: str | None,
) -> str:
    """Carry out a Yes: post the message or send the email; returns the Slack ts or 'email'."""
    if kind is Delivery.SLACK_USER:
        return notifier.dm(team_id, target, text).ts
    if kind is Delivery.SLACK_CHANNEL:
        return notifier.post(team_id, target, text).ts
    if kind is Delivery.SMTP:
        subject, body = split_subject(text, subject)
        try:
            send_email(
                settings.smtp_url or "", sender or "followthrough@localhost", target, subject, body
            )
        except EmailError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable, code="smtp") from exc
        return "email"
    raise ValueError(f"nothing to deliver for {kind}")


def finish_delivery(
    rt: Runtime, notifier: Notifier, team_id: str, step_id: int, token: int, now: dt.datetime
) -> str | None:
    """Deliver a decided step and record it; returns a problem to tell the decider, if any."""
    settings = rt.settings
    with session_scope(rt.engine) as s:
        step = s.get(CaseStep, step_id)
        if step is None or step.team_id != team_id or step.status != S.SENDING:
            return None
        case = get_case(s, team_id, step.case_id)
        kind = delivery_for(step.medium, step.recipient_ref, bool(settings.smtp_url))
        view = step_view(s, case, step)
        sender_person = person(s, team_id, step.decided_by)
        sender = sender_person.email if sender_person else None
        subject = _subject(case, step, view.account)
        text, target = step.final_text or step.draft, step.recipient_ref or ""
    try:
        ts = deliver(notifier, settings, team_id, kind, target, text, subject, sender)
    except DeliveryError as exc:
        if exc.retryable:
            with session_scope(rt.engine) as s:
                settle(
                    s,
                    step_id,
                    token,
                    S.SENDING,
                    due_at=now + backoff(token),
                    lease_until=now + backoff(token),
                    updated_at=now,
                )
                audit.record(
                    s,
                    team_id,
                    "system",
                    "case_step",
                    step_id,
                    "delivery_delayed",
                    error=exc.code or str(exc),
                )
            return "Slack (or the mail server) is busy; it will be sent shortly."
        return _undeliverable(rt, notifier, team_id, step_id, token, now, exc)
    with session_scope(rt.engine) as s:
        ok = settle(
            s,
            step_id,
            token,
            S.SENDING,
            status=S.DONE,
            delivered_ts=ts,
            due_at=None,
            lease_until=None,
            updated_at=now,
        )
        if ok:
            audit.record(
                s,
                team_id,
                "system",
                "case_step",
                step_id,
                "delivered",
                from_state=S.SENDING,
                to_state=S.DONE,
                via=str(kind),
                to=target,
                ts=ts,
            )
    if ok:
        after_settled(rt, notifier, team_id, step_id)
    return None


def _undeliverable(
    rt: Runtime,
    notifier: Notifier,
    team_id: str,
    step_id: int,
    token: int,
    now: dt.datetime,
    exc: DeliveryError,
) -> str:
    hint = {
        "not_in_channel": "the app is not in that channel — invite it, then say Yes again",
        "channel_not_found": "that channel does not exist (or is private without the app)",
        "is_archived": "that channel is archived",
    }.get(exc.code or "", f"Slack said {exc.code or exc}")
    step: CaseStep | None = None
    view: msgs.StepView | None = None
    with session_scope(rt.engine) as s:
        ok = settle(
            s,
            step_id,
            token,
            S.SENDING,
            status=S.AWAITING,
            decision=None,
            decided_by=None,
            decided_at=None,
            due_at=None,
            lease_until=None,
            updated_at=now,
        )
        if ok:
            audit.record(
                s,
                team_id,
                "system",
                "case_step",
                step_id,
                "undeliverable",
                from_state=S.SENDING,
                to_state=S.AWAITING,
                error=exc.code,
            )
            step = s.get(CaseStep, step_id)
            case = get_case(s, team_id, step.case_id) if step else None
            view = step_view(s, case, step) if step and case else None
    if ok and view is not None and step is not None and step.dm_channel and step.dm_ts:
        text, blocks = msgs.step_dm(view)
        blocks.insert(1, msgs.context(f"⚠️ Not sent: {hint}."))
        _quietly(notifier.update, team_id, step.dm_channel, step.dm_ts, text, blocks)
    return f"Not sent: {hint}."


def retry_deliveries(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """Decided steps whose delivery was interrupted (crash, 429, 5xx) are delivered now."""
    lease_until = now + dt.timedelta(seconds=lease_seconds(rt.settings))
    with session_scope(rt.engine) as s:
        claimed = claim(s, (S.SENDING,), now, lease_until, CLAIM_BATCH, running_only=False)
        teams = (
            {
                row.id: row.team_id
                for row in s.exec(
                    select(CaseStep).where(col(CaseStep.id).in_([i for i, _ in claimed]))
                )
            }
            if claimed
            else {}
        )
    done = 0
    for step_id, token in claimed:
        if finish_delivery(rt, notifier, teams[step_id], step_id, token, now) is None:
            done += 1
    return done


# --- after a step is settled ------------------------------------------------------------


def settled_headline(step: CaseStep, kind: Delivery) -> str:
    target = step.recipient_ref or ""
    delivered = None
    if step.delivered_ts and kind is Delivery.SLACK_CHANNEL:
        delivered = f"<#{target}>" if target[:1] in {"C", "G"} else target
    elif step.delivered_ts and kind is Delivery.SLACK_USER:
        delivered = f"<@{target}>"
    elif step.delivered_ts and kind is Delivery.SMTP:
        delivered = f"{target} by email"
    return msgs.decided_headline(
        step.decision or "yes",
        step.decided_by or "system",
        step.decided_at or step.updated_at,
        delivered_to=delivered,
        reason=step.reason,
        by_hand=kind is Delivery.BY_HAND and step.decision != "no",
    )


def after_settled(rt: Runtime, notifier: Notifier, team_id: str, step_id: int) -> None:
    """Update the step's DM in place, then ask whether the risk is resolved."""
    outbox = Outbox()
    with session_scope(rt.engine) as s:
        step = s.get(CaseStep, step_id)
        if step is None or step.team_id != team_id:
            return
        case = get_case(s, team_id, step.case_id)
        outbox.case_id = case.id
        view = step_view(s, case, step)
        kind = delivery_for(step.medium, step.recipient_ref, bool(rt.settings.smtp_url))
        extra = []
        if step.medium == "email" and kind is Delivery.BY_HAND and step.decision != "no":
            subject, body = split_subject(
                step.final_text or step.draft, _subject(case, step, view.account)
            )
            extra = msgs.email_ready_blocks(step.recipient_ref, subject, body)
        outbox.update(step, *msgs.step_settled(view, settled_headline(step, kind), extra))
        if case.status == CaseStatus.RUNNING and case.current_step == step.position:
            asked = step.decided_by or assignee_of(case, step)
            outbox.dm(asked, *msgs.resolution_question(case.id or 0, step.position, view.account))
    outbox.flush(notifier, team_id, rt.engine)


DUE_JOBS = [
    ("cases.steps_due", post_due_steps),
    ("cases.followups", send_followups),
    ("cases.deliveries", retry_deliveries),
]
