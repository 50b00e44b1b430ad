"""The daily digest: who gets one, when, what it groups, and never twice a day."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.db import session_scope
from bot.devtools.standin.blockkit import validate_message_blocks
from bot.digest import scheduled as digest_jobs
from bot.digest import service as digest
from bot.digest.blocks import Item, digest_message, group_items, parse_ref
from bot.models import DigestSend, StepStatus
from bot.notify import DeliveryError

# Monday 2026-11-23, 09:00 in New York = 14:00 UTC
MON_9_NY = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)


def test_grouping_is_pure_and_ordered() -> None:
    items = [
        Item("c", 1, "open", "late", TODAY - dt.timedelta(days=2)),
        Item("c", 2, "open", "today", TODAY),
        Item("c", 3, "open", "thursday", TODAY + dt.timedelta(days=3)),
        Item("c", 4, "open", "next month", TODAY + dt.timedelta(days=30)),
        Item("c", 5, "open", "whenever", None),
        Item("s", 6, "awaiting", "call Dana", TODAY),
    ]
    groups = group_items(items, TODAY)
    assert [
        [i.id for i in groups[k]] for k in ("overdue", "today", "week", "later", "none", "steps")
    ] == [[1], [2], [3], [4], [5], [6]]
    text, blocks = digest_message(items, TODAY)
    assert "6 open items" in text and "1 overdue" in text
    assert validate_message_blocks(blocks) == []
    assert (
        parse_ref(
            blocks[3]["block_id"] if blocks[3]["type"] == "actions" else blocks[4]["block_id"]
        )
        is not None
    )


def test_digest_of_many_items_stays_under_50_blocks() -> None:
    items = [Item("c", i, "open", f"thing {i}", TODAY) for i in range(80)]
    _, blocks = digest_message(items, TODAY)
    assert len(blocks) <= 50
    assert validate_message_blocks(blocks) == []
    assert "more not shown" in str(blocks)


def test_parse_ref_refuses_forged_block_ids() -> None:
    assert parse_ref("ftitem:c:42:open").id == 42  # type: ignore[union-attr]
    for bad in ("", "ftitem:x:1:open", "ftitem:c:abc:open", "other:c:1:open", None):
        assert parse_ref(bad) is None


def test_due_time_respects_timezone_hour_weekends_and_settings(rt) -> None:  # type: ignore[no-untyped-def]
    from bot.models import Person

    ny = Person(team_id="T", slack_user_id="U1", tz="America/New_York")
    tokyo = Person(team_id="T", slack_user_id="U2", tz="Asia/Tokyo")
    early = Person(team_id="T", slack_user_id="U3", tz="America/New_York", digest_hour=7)
    off = Person(team_id="T", slack_user_id="U4", tz="America/New_York", digest_enabled=False)
    gone = Person(team_id="T", slack_user_id="U5", tz="America/New_York", deactivated=True)
    no_tz = Person(team_id="T", slack_user_id="U6", tz=None)
    before = MON_9_NY - dt.timedelta(minutes=1)
    s = rt.settings
    assert digest.digest_due(ny, s, before) is None
    assert digest.digest_due(ny, s, MON_9_NY) == TODAY
    sun_23_utc = dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)  # Mon 08:00 in Tokyo
    assert digest.digest_due(tokyo, s, sun_23_utc) is None
    assert digest.digest_due(tokyo, s, sun_23_utc + dt.timedelta(hours=1)) == TODAY
    assert digest.digest_due(early, s, before) == TODAY
    assert digest.digest_due(off, s, MON_9_NY) is None
    assert digest.digest_due(gone, s, MON_9_NY) is None
    assert digest.digest_due(no_tz, s, MON_9_NY) == TODAY  # DEFAULT_TIMEZONE = New York
    saturday = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)
    assert digest.digest_due(ny, s, saturday) is None


def test_one_digest_per_person_per_day_and_none_when_empty(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    rows.person("U0MAYA")
    rows.person("U0SAM", tz=None)  # no timezone → DEFAULT_TIMEZONE
    rows.person("U0GONE", deactivated=True)
    rows.person("U0SNOOZE")
    acct = rows.account()
    rows.commitment("U0MAYA", "Send the SSO guide", TODAY - dt.timedelta(days=1), account_id=acct)
    rows.commitment("U0MAYA", "Share the roadmap", None)  # no due date
    rows.commitment("U0SAM", "Fix the export", TODAY)
    rows.commitment("U0GONE", "Ghost promise", TODAY)
    rows.commitment("U0SNOOZE", "Later", TODAY, snoozed_until=TODAY + dt.timedelta(days=2))
    rows.case_with_step("U0SAM", acct, status=StepStatus.AWAITING)

    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY) == 2
    assert {d[1] for d in notifier.dms} == {"U0MAYA", "U0SAM"}
    maya = notifier.to("U0MAYA")[0]
    rendered = str(maya[3])
    assert "Overdue" in rendered and "No due date" in rendered and "Acme Corp" in rendered
    assert "Case steps waiting on you" in str(notifier.to("U0SAM")[0][3])
    # a second worker / a restart at 9:00:30 sends nothing more
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(seconds=30)) == 0
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(hours=3)) == 0
    assert len(notifier.dms) == 2
    with session_scope(rt.engine) as s:
        statuses = {r.user_id: r.status for r in s.exec(select(DigestSend))}
    assert statuses == {"U0MAYA": "sent", "U0SAM": "sent"}  # U0SNOOZE: nothing to show
    # next working day: again
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(days=1)) == 2


def test_a_worker_killed_mid_batch_sends_the_rest_once(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    from bot.devtools.memory_slack import Killed
    from bot.outbox.scheduled import lease_for, send_due

    users = [f"U{i:03d}" for i in range(10)]
    for u in users:
        rows.person(u)
        rows.commitment(u, f"promise of {u}", TODAY)
    # five digests queued in one tick (the limit), the other five the next
    assert digest_jobs.run_digests(rt, notifier, MON_9_NY, limit=5) == 5
    notifier.crash_after_post()  # the sender dies right after Slack took the first one
    try:
        send_due(rt, notifier, MON_9_NY)
    except Killed:
        pass
    assert digest_jobs.run_digests(rt, notifier, MON_9_NY + dt.timedelta(seconds=30)) == 5
    later = MON_9_NY + lease_for(rt.settings) + dt.timedelta(seconds=1)
    send_due(rt, notifier, later)  # the dead sender's row is reconciled, the rest sent
    assert send(digest_jobs.run_digests, rt, notifier, later + dt.timedelta(minutes=5)) == 0
    assert sorted(d[1] for d in notifier.dms) == users
    assert notifier.accepted_posts == 10


def test_two_workers_at_once_never_double_send(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    for i in range(20):
        rows.person(f"U{i:03d}")
        rows.commitment(f"U{i:03d}", "x", TODAY)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: send(digest_jobs.run_digests, rt, notifier, MON_9_NY), range(4)))
    send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(seconds=5))
    assert len(notifier.dms) == 20 and len({d[1] for d in notifier.dms}) == 20


def test_delivery_failures_retry_or_stop(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    rows.person("U0RATE")
    rows.person("U0GONE")
    rows.commitment("U0RATE", "x", TODAY)
    rows.commitment("U0GONE", "y", TODAY)
    notifier.fail_for = {
        "U0RATE": DeliveryError("429", retryable=True, code="ratelimited"),
        "U0GONE": DeliveryError("gone", retryable=False, code="user_disabled"),
    }
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY) == 0
    notifier.fail_for = {}
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(seconds=5)) == 0
    assert send(digest_jobs.run_digests, rt, notifier, MON_9_NY + dt.timedelta(minutes=2)) == 1
    assert [d[1] for d in notifier.dms] == ["U0RATE"]
    with session_scope(rt.engine) as s:
        statuses = {r.user_id: r.status for r in s.exec(select(DigestSend))}
    assert statuses == {"U0RATE": "sent", "U0GONE": "failed"}


def test_settings_view_and_save(rt, rows) -> None:  # type: ignore[no-untyped-def]
    from bot.devtools.standin.blockkit import validate_view
    from bot.models import Person

    view = digest.settings_view(Person(team_id="T", slack_user_id="U1", digest_hour=7))
    assert validate_view(view) == [] and view["callback_id"] == "digest_settings"
    with session_scope(rt.engine) as s:
        p = digest.save_settings(s, "T0TEST", "U0NEW", enabled=False, hour=8)
        assert (p.digest_enabled, p.digest_hour) == (False, 8)


def test_step_items_snooze_reassign_and_refusals(rt, rows) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from bot.digest.blocks import A_DONE, A_REASSIGN, A_SNOOZE, A_SNOOZE_DATE, Ref
    from bot.models import CaseStep

    acct = rows.account()
    due = dt.datetime(2026, 11, 24, 14, tzinfo=dt.UTC)
    _, scheduled = rows.case_with_step("U0SAM", acct, status=StepStatus.SCHEDULED, due_at=due)
    _, waiting = rows.case_with_step("U0SAM", acct, status=StepStatus.AWAITING)
    act = digest.act
    with pytest.raises(digest.ItemError, match="its own message"):
        act(
            rt.engine,
            rt.settings,
            "T0TEST",
            "U0SAM",
            A_DONE,
            Ref("s", waiting, "awaiting"),
            None,
            MON_9_NY,
        )
    with pytest.raises(digest.ItemError, match="Only"):
        act(
            rt.engine,
            rt.settings,
            "T0TEST",
            "U0LI",
            A_SNOOZE,
            Ref("s", scheduled, "scheduled"),
            "1w",
            MON_9_NY,
        )
    with pytest.raises(digest.ItemError, match="not in the future"):
        act(
            rt.engine,
            rt.settings,
            "T0TEST",
            "U0SAM",
            A_SNOOZE_DATE,
            Ref("s", scheduled, "scheduled"),
            "2026-11-01",
            MON_9_NY,
        )
    act(
        rt.engine,
        rt.settings,
        "T0TEST",
        "U0SAM",
        A_SNOOZE,
        Ref("s", scheduled, "scheduled"),
        "1w",
        MON_9_NY,
    )
    out = act(
        rt.engine,
        rt.settings,
        "T0TEST",
        "U0SAM",
        A_REASSIGN,
        Ref("s", waiting, "awaiting"),
        "U0MAYA",
        MON_9_NY,
    )
    assert out.notify_user == "U0MAYA"
    with pytest.raises(digest.ItemError, match="not one of ours"):
        act(rt.engine, rt.settings, "T0TEST", "U0SAM", A_DONE, None, None, MON_9_NY)
    with session_scope(rt.engine) as s:
        moved = s.get(CaseStep, scheduled)
        assert moved.due_at is not None
        assert moved.due_at.replace(tzinfo=dt.UTC).date() == dt.date(2026, 11, 30)
        assert s.get(CaseStep, waiting).assignee_user_id == "U0MAYA"
    # another workspace's ids are not ours
    with pytest.raises(digest.ItemError, match="no longer exists"):
        act(
            rt.engine,
            rt.settings,
            "T0OTHER",
            "U0SAM",
            A_SNOOZE,
            Ref("s", scheduled, "scheduled"),
            "1w",
            MON_9_NY,
        )
