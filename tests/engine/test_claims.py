"""Exactly once under any number of workers: atomic claims, leases, retries, never dropped."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlmodel import select

from bot.cases.decisions import decide
from bot.cases.engine import claim_due_steps, post_due_steps, retry_deliveries, start_case
from bot.config import load_settings
from bot.db import session_scope
from bot.models import CaseStep
from bot.notify import DeliveryError, Posted
from bot.runtime import Runtime

MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


class FakeNotifier:
    """Records DMs; `fail_with` makes every DM raise (DeliveryError or a crash)."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.dms: list[tuple[str, str]] = []
        self.updates: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self._lock = threading.Lock()

    def dm(self, team_id: str, user_id: str, text: str, blocks: Any = None) -> Posted:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.dms.append((user_id, text))
            return Posted(channel=f"D{user_id}", ts=f"{len(self.dms)}.000100")

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: Any = None,
        thread_ts: str | None = None,
    ) -> Posted:
        return self.dm(team_id, channel, text, blocks)

    def update(self, team_id: str, channel: str, ts: str, text: str, blocks: Any = None) -> None:
        with self._lock:
            self.updates.append((ts, text))


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


def test_three_workers_at_the_same_moment_dm_each_step_once(rt: Runtime, kit: Any) -> None:
    cases = [
        kit.make_case(rt.engine, account_name=f"A{i}", assignee=f"U{i:03d}", people=(i == 0))
        for i in range(24)
    ]
    for case_id in cases:
        with session_scope(rt.engine) as s:
            start_case(s, kit.TEAM, case_id, "U0MAYA", MON_9AM_NY, settings=rt.settings)
    notifier = FakeNotifier()
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def worker() -> None:
        barrier.wait()
        counts.append(post_due_steps(rt, notifier, MON_9AM_NY))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 24
    assert sorted(u for u, _ in notifier.dms) == sorted(f"U{i:03d}" for i in range(24))
    assert {r.status for r in step_rows(rt)} == {"awaiting"}
    assert post_due_steps(rt, notifier, MON_9AM_NY + dt.timedelta(minutes=5)) == 0


def test_crash_after_claim_is_retried_after_the_lease_and_sent_once(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 1)
    lease = dt.timedelta(seconds=rt.settings.step_lease_seconds)
    with session_scope(rt.engine) as s:  # a worker claims … and dies before posting
        assert len(claim_due_steps(s, MON_9AM_NY, MON_9AM_NY + lease)) == 1
    notifier = FakeNotifier()
    assert post_due_steps(rt, notifier, MON_9AM_NY + lease / 2) == 0
    assert step_rows(rt)[0].status == "claimed"
    assert post_due_steps(rt, notifier, MON_9AM_NY + lease + dt.timedelta(seconds=1)) == 1
    assert post_due_steps(rt, notifier, MON_9AM_NY + 3 * lease) == 0
    assert len(notifier.dms) == 1
    row = step_rows(rt)[0]
    assert row.status == "awaiting" and row.dm_ts == "1.000100" and row.attempts == 2


def test_a_worker_that_blows_up_while_posting_leaves_the_claim_to_the_lease(
    rt: Runtime, kit: Any
) -> None:
    started(rt, kit, 1)
    with pytest.raises(RuntimeError):
        post_due_steps(rt, FakeNotifier(fail_with=RuntimeError("killed")), MON_9AM_NY)
    assert step_rows(rt)[0].status == "claimed"
    later = MON_9AM_NY + dt.timedelta(seconds=rt.settings.step_lease_seconds + 1)
    notifier = FakeNotifier()
    assert post_due_steps(rt, notifier, later) == 1 and len(notifier.dms) == 1


@pytest.mark.parametrize("code", ["ratelimited", "internal_error"])
def test_slack_errors_delay_the_step_never_drop_it(rt: Runtime, kit: Any, code: str) -> None:
    started(rt, kit, 1)
    busy = FakeNotifier(fail_with=DeliveryError(code, retryable=True, code=code))
    assert post_due_steps(rt, busy, MON_9AM_NY) == 0
    row = step_rows(rt)[0]
    assert row.status == "scheduled" and row.due_at is not None
    notifier = FakeNotifier()
    assert post_due_steps(rt, notifier, MON_9AM_NY + dt.timedelta(seconds=5)) == 0
    assert post_due_steps(rt, notifier, MON_9AM_NY + dt.timedelta(minutes=2)) == 1
    assert len(notifier.dms) == 1


def test_off_hours_and_busy_channels_wait(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 5)  # five cases, all for U0MAYA: at most 3 DMs per channel per tick
    notifier = FakeNotifier()
    assert post_due_steps(rt, notifier, MON_9AM_NY) == 3
    assert post_due_steps(rt, notifier, MON_9AM_NY + dt.timedelta(seconds=5)) == 2
    assert len(notifier.dms) == 5
    late = kit.make_case(rt.engine, account_name="Late", people=False)
    with session_scope(rt.engine) as s:
        start_case(
            s,
            kit.TEAM,
            late,
            "U0MAYA",
            MON_9AM_NY + dt.timedelta(hours=9, minutes=59),
            settings=rt.settings,
        )  # 17:59 → due at once, claimed at 18:01
    with session_scope(rt.engine) as s:
        row = s.exec(select(CaseStep).where(CaseStep.case_id == late, CaseStep.position == 1)).one()
        row.due_at = MON_9AM_NY + dt.timedelta(hours=9, minutes=59)
        s.add(row)
    assert post_due_steps(rt, notifier, MON_9AM_NY + dt.timedelta(hours=9, minutes=61)) == 0
    with session_scope(rt.engine) as s:
        row = s.exec(select(CaseStep).where(CaseStep.case_id == late, CaseStep.position == 1)).one()
        assert row.status == "scheduled"
        assert row.due_at.replace(tzinfo=dt.UTC) == MON_9AM_NY + dt.timedelta(days=1)


def test_a_yes_interrupted_by_slack_is_delivered_later_by_the_worker(rt: Runtime, kit: Any) -> None:
    started(rt, kit, 1)
    assert post_due_steps(rt, FakeNotifier(), MON_9AM_NY) == 1
    step_id = step_rows(rt)[0].id or 0
    busy = FakeNotifier(fail_with=DeliveryError("busy", retryable=True, code="ratelimited"))
    note = decide(rt, busy, kit.TEAM, step_id, "U0MAYA", "yes", expected="awaiting", now=MON_9AM_NY)
    assert note and "shortly" in note
    assert step_rows(rt)[0].status == "sending"
    notifier = FakeNotifier()
    assert retry_deliveries(rt, notifier, MON_9AM_NY + dt.timedelta(seconds=10)) == 0
    assert retry_deliveries(rt, notifier, MON_9AM_NY + dt.timedelta(minutes=5)) == 1
    assert retry_deliveries(rt, notifier, MON_9AM_NY + dt.timedelta(minutes=30)) == 0
    row = step_rows(rt)[0]
    assert row.status == "done" and row.delivered_ts
    posts = [u for u, text in notifier.dms if u == "C0CSRISK"]
    assert posts == ["C0CSRISK"]  # the message itself, once; then the resolution question
    assert [u for u, text in notifier.dms if "resolved" in text] == ["U0MAYA"]
