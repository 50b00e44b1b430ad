"""Exactly once under any number of workers: atomic claims, leases, the look-before-posting
reconciliation, fencing of late workers, retries — never dropped, never doubled.

These drive the services directly with an in-memory Slack (`MemorySlack`) that keeps message
metadata like Slack; the kill tests in `tests/exactly_once/` do the same with real processes.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlmodel import select

from bot.cases.decisions import decide
from bot.cases.engine import start_case
from bot.cases.scheduled import post_due_steps
from bot.config import load_settings
from bot.db import session_scope
from bot.devtools.memory_slack import Killed, MemorySlack
from bot.models import CaseStep, OutboundMessage
from bot.notify import DeliveryError
from bot.outbox import service as ob
from bot.outbox.scheduled import lease_for, send_due
from bot.runtime import Runtime

MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def rt(db_engine: Any, database_url: str) -> Runtime:
    settings = load_settings(
        database_url=database_url,
        slack_bot_token="xoxb-x",
        slack_signing_secret="s",
        _env_file=None,
    )
    return Runtime(settings=settings, engine=db_engine)


def started(rt: Runtime, kit: Any, n: int, **kw: Any) -> list[int]:
    ids = []
    for i in range(n):
        case_id = kit.make_case(rt.engine, account_name=f"Acct {i}", people=(i == 0), **kw)
        with session_scope(rt.engine) as s:
            start_case(s, kit.TEAM, case_id, "U0MAYA", MON_9AM_NY, settings=rt.settings)
        ids.append(case_id)
    return ids


def step_rows(rt: Runtime) -> list[CaseStep]:
    with session_scope(rt.engine) as s:
        return list(s.exec(select(CaseStep).where(CaseStep.position == 1)))


def outbox_rows(rt: Runtime, kind: str) -> list[OutboundMessage]:
    with session_scope(rt.engine) as s:
        return list(s.exec(select(OutboundMessage).where(OutboundMessage.kind == kind)))


def tick(rt: Runtime, slack: MemorySlack, now: dt.datetime) -> int:
    """What one scheduler tick does for steps: queue the due DMs, then send the outbox."""
    post_due_steps(rt, slack, now)
    return send_due(rt, slack, now)


def step_dms(slack: MemorySlack) -> list[str]:
    return sorted(
        m.channel
        for m in slack.live()
        if m.metadata and ":dm:" in m.metadata["event_payload"]["key"]
    )


def test_three_workers_at_the_same_moment_dm_each_step_once(rt: Runtime, kit: Any) -> None:
    cases = [
        kit.make_case(rt.engine, account_name=f"A{i}", assignee=f"U{i:03d}", people=(i == 0))
        for i in range(24)
    ]
    for case_id in cases:
        with session_scope(rt.engine) as s:
            start_case(s, kit.TEAM, case_id, "U0MAYA", MON_9AM_NY, settings=rt.settings)
    slack = MemorySlack()
    barrier = threading.Barrier(3)

    def worker() -> None:
        barrier.wait()
        tick(rt, slack, MON_9AM_NY)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tick(rt, slack, MON_9AM_NY + dt.timedelta(seconds=5))  # anything a lost race left
    assert step_dms(slack) == sorted(f"DU{i:03d}" for i in range(24))
    assert {r.status for r in step_rows(rt)} == {"awaiting"}
    assert all(r.dm_ts for r in step_rows(rt))
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(minutes=5)) == 0


def test_a_worker_killed_after_slack_took_the_dm_is_reconciled_not_repeated(
    rt: Runtime, kit: Any
) -> None:
    started(rt, kit, 1)
    slack = MemorySlack()
    slack.crash_after_post()
    with pytest.raises(Killed):
        tick(rt, slack, MON_9AM_NY)
    [row] = outbox_rows(rt, "step_dm")
    assert row.status == "sending" and row.maybe_sent and len(step_dms(slack)) == 1
    lease = lease_for(rt.settings)
    assert tick(rt, slack, MON_9AM_NY + lease / 2) == 0  # still leased: nobody touches it
    assert tick(rt, slack, MON_9AM_NY + lease + dt.timedelta(seconds=1)) == 1  # adopted
    assert tick(rt, slack, MON_9AM_NY + 3 * lease) == 0
    assert slack.accepted_posts == 1 and len(step_dms(slack)) == 1
    step = step_rows(rt)[0]
    assert step.status == "awaiting" and step.dm_ts == slack.live()[0].ts


def test_a_worker_killed_before_posting_leaves_it_to_the_next_after_the_lease(
    rt: Runtime, kit: Any
) -> None:
    started(rt, kit, 1)
    post_due_steps(rt, MemorySlack(), MON_9AM_NY)
    lease = lease_for(rt.settings)
    with session_scope(rt.engine) as s:  # a sender claims … and dies before posting
        assert len(ob.claim(s, MON_9AM_NY, MON_9AM_NY + lease, 10)) == 1
    slack = MemorySlack()
    assert send_due(rt, slack, MON_9AM_NY + lease / 2) == 0
    assert send_due(rt, slack, MON_9AM_NY + lease + dt.timedelta(seconds=1)) == 1
    assert slack.accepted_posts == 1


@pytest.mark.parametrize(
    ("error", "uncertain"),
    [
        (DeliveryError("ratelimited", retryable=True, code="ratelimited", retry_after=30), False),
        (DeliveryError("internal_error", retryable=True, code="http_500", uncertain=True), True),
    ],
)
def test_slack_errors_delay_the_message_never_drop_it(
    rt: Runtime, kit: Any, error: DeliveryError, uncertain: bool
) -> None:
    started(rt, kit, 1)
    slack = MemorySlack()
    slack.fail("post", error)
    assert tick(rt, slack, MON_9AM_NY) == 0
    [row] = outbox_rows(rt, "step_dm")
    assert row.status == "pending" and row.due_at is not None and row.maybe_sent is uncertain
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(seconds=5)) == 0  # backing off
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(minutes=3)) == 1  # (a lease, if unsure)
    assert slack.accepted_posts == 1


def test_a_500_after_slack_took_the_post_is_found_in_history(rt: Runtime, kit: Any) -> None:
    """Slack may answer 500 and still have posted: the retry looks first and adopts."""
    started(rt, kit, 1)
    slack = MemorySlack()
    real_post = slack.post

    def post_then_500(*args: Any, **kwargs: Any) -> Any:
        real_post(*args, **kwargs)
        raise DeliveryError("http_500", retryable=True, code="http_500", uncertain=True)

    slack.post = post_then_500  # type: ignore[method-assign]
    assert tick(rt, slack, MON_9AM_NY) == 0
    slack.post = real_post  # type: ignore[method-assign]
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(minutes=3)) == 1
    assert slack.accepted_posts == 1 and step_rows(rt)[0].dm_ts == slack.live()[0].ts


def test_a_late_worker_whose_claim_was_taken_changes_nothing(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 1)
    post_due_steps(rt, MemorySlack(), MON_9AM_NY)
    lease = lease_for(rt.settings)
    with session_scope(rt.engine) as s:  # worker A claims, then stalls past its lease
        [claimed] = ob.claim(s, MON_9AM_NY, MON_9AM_NY + lease, 10)
        row_id, token_a = claimed.id or 0, claimed.attempts
    slack = MemorySlack()
    later = MON_9AM_NY + lease + dt.timedelta(seconds=1)
    assert send_due(rt, slack, later) == 1  # worker B takes it over and posts
    with session_scope(rt.engine) as s:  # A wakes up: its fence fails, so it never posts
        assert not ob.fence(s, row_id, token_a, later + lease, "DU0MAYA")
        assert ob.settle_sent(s, row_id, token_a, 0, "DU0MAYA", "1.0", later) == "lost"
    assert slack.accepted_posts == 1


def test_a_late_copy_is_removed_when_the_new_owner_posted_its_own(rt: Runtime, kit: Any) -> None:
    """Belt and braces for a stall between the fence and the post longer than a lease."""
    from bot.outbox.scheduled import _drop_late_copy

    started(rt, kit, 1)
    post_due_steps(rt, MemorySlack(), MON_9AM_NY)
    slack = MemorySlack()
    send_due(rt, slack, MON_9AM_NY)  # the new owner's message, recorded
    late = slack.dm("T0TEST", "U0MAYA", "late copy")  # the stalled worker's post lands
    [row] = outbox_rows(rt, "step_dm")
    _drop_late_copy(slack, row, row, late)
    assert [m.text for m in slack.live()] != ["late copy"] and len(slack.live()) == 1


def test_off_hours_and_busy_lanes_wait(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 5)  # five cases, all for U0MAYA: at most 3 DMs per person per tick
    slack = MemorySlack()
    assert tick(rt, slack, MON_9AM_NY) == 3
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(seconds=5)) == 2
    assert len(step_dms(slack)) == 5
    late = kit.make_case(rt.engine, account_name="Late", people=False)
    with session_scope(rt.engine) as s:
        start_case(
            s,
            kit.TEAM,
            late,
            "U0MAYA",
            MON_9AM_NY + dt.timedelta(hours=9, minutes=59),
            settings=rt.settings,
        )  # 17:59 → due at once, looked at 18:01
    assert tick(rt, slack, MON_9AM_NY + dt.timedelta(hours=9, minutes=61)) == 0
    with session_scope(rt.engine) as s:
        row = s.exec(select(CaseStep).where(CaseStep.case_id == late, CaseStep.position == 1)).one()
        assert row.status == "scheduled"
        assert row.due_at.replace(tzinfo=dt.UTC) == MON_9AM_NY + dt.timedelta(days=1)


def test_a_yes_interrupted_by_slack_is_delivered_later_by_the_worker(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 1)
    assert tick(rt, MemorySlack(), MON_9AM_NY) == 1
    step_id = step_rows(rt)[0].id or 0
    busy = MemorySlack()
    busy.fail("post", DeliveryError("busy", retryable=True, code="ratelimited"), times=5)
    decide(rt, busy, kit.TEAM, step_id, "U0MAYA", "yes", expected="awaiting", now=MON_9AM_NY)
    assert rt.drain_soon()  # the click's own send (off the request) met the busy Slack
    assert step_rows(rt)[0].status == "sending"
    slack = MemorySlack()
    assert send_due(rt, slack, MON_9AM_NY + dt.timedelta(seconds=10)) == 0
    send_due(rt, slack, MON_9AM_NY + dt.timedelta(minutes=5))
    send_due(rt, slack, MON_9AM_NY + dt.timedelta(minutes=30))
    row = step_rows(rt)[0]
    assert row.status == "done" and row.delivered_ts
    assert [m.channel for m in slack.live() if "resolved" not in m.text] == ["C0CSRISK"]
    assert [m.channel for m in slack.live() if m.text.startswith("Is the risk")] == ["DU0MAYA"]


def test_a_step_decided_before_its_reminder_went_out_gets_no_stale_reminder(
    rt: Runtime, kit: Any
) -> None:
    started(rt, kit, 1)
    slack = MemorySlack()
    tick(rt, slack, MON_9AM_NY)
    step_id = step_rows(rt)[0].id or 0
    from bot.cases.scheduled import send_followups

    send_followups(rt, slack, MON_9AM_NY + dt.timedelta(days=7))  # the reminder is queued …
    decide(rt, slack, kit.TEAM, step_id, "U0MAYA", "no", expected="awaiting", now=MON_9AM_NY)
    assert rt.drain_soon()
    send_due(rt, slack, MON_9AM_NY + dt.timedelta(days=7))  # … and is not sent
    assert [m for m in slack.live() if "Reminder" in m.text and m.metadata] == []
    [reminder] = [r for r in outbox_rows(rt, "step_dm") if ":reminder:" in r.key]
    assert reminder.status == "cancelled"
