"""Reminders the working day before, overdue notices once, and the close-the-loop note."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.commitments import service as cm
from bot.db import session_scope
from bot.followup import scheduled as followup_jobs
from bot.followup import service as followup
from bot.models import AuditEvent, Commitment, Contact
from bot.notify import DeliveryError

FRI_10_NY = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
MON = dt.date(2026, 11, 30)


def test_pure_rules() -> None:
    ny = dt.timezone(dt.timedelta(hours=-5))
    fri_10 = dt.datetime(2026, 11, 27, 10, tzinfo=ny)
    assert followup_jobs.reminder_due(MON, fri_10, 9)  # Monday's due date → Friday reminder
    assert not followup_jobs.reminder_due(MON, fri_10.replace(hour=8), 9)
    assert not followup_jobs.reminder_due(dt.date(2026, 11, 27), fri_10, 9)  # due today: digest
    assert followup_jobs.overdue_now(dt.date(2026, 11, 26), fri_10, 9)
    assert not followup_jobs.overdue_now(dt.date(2026, 11, 27), fri_10, 9)


def test_reminder_once_per_due_date(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    run = followup_jobs.run_followups
    rows.person("U0MAYA")
    cid = rows.commitment("U0MAYA", "Send the SSO guide", MON)
    rows.commitment("U0MAYA", "No date", None)
    assert send(run, rt, notifier, FRI_10_NY - dt.timedelta(days=1)) == 0  # Thursday: too early
    assert send(run, rt, notifier, FRI_10_NY) == 1
    assert send(run, rt, notifier, FRI_10_NY + dt.timedelta(hours=1)) == 0
    assert "due on Monday" in notifier.dms[0][2] and "SSO guide" in notifier.dms[0][2]
    # moving the due date re-arms the reminder (commitments.edit clears reminded_for)
    with session_scope(rt.engine) as s:
        cm.edit(s, "T0TEST", cid, "U0MAYA", due_date=dt.date(2026, 12, 2))
    assert send(run, rt, notifier, dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)) == 1


def test_the_job_reads_only_what_is_due(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    """After one look, a commitment waits for its next moment: an idle tick reads nothing."""
    rows.person("U0MAYA")
    rows.commitment("U0MAYA", "Send the SSO guide", MON)
    with session_scope(rt.engine) as s:
        assert len(followup_jobs.due_commitments(s, FRI_10_NY - dt.timedelta(days=3), 100)) == 1
    followup_jobs.run_followups(rt, notifier, FRI_10_NY - dt.timedelta(days=3))
    with session_scope(rt.engine) as s:
        assert followup_jobs.due_commitments(s, FRI_10_NY - dt.timedelta(days=1), 100) == []
        [c] = followup_jobs.due_commitments(s, FRI_10_NY, 100)  # its reminder moment
        assert c.followup_at is not None


def test_overdue_tells_owner_and_csm_once(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    rows.person("U0LI")
    rows.person("U0MAYA")
    acct = rows.account("Acme Corp", csm="U0MAYA")
    rows.commitment("U0LI", "Ship the fix", dt.date(2026, 11, 25), account_id=acct)
    rows.commitment("U0LI", "Snoozed", dt.date(2026, 11, 25), snoozed_until=MON)
    run = followup_jobs.run_followups
    assert send(run, rt, notifier, FRI_10_NY) == 2  # the owner, and the account's CSM
    assert send(run, rt, notifier, FRI_10_NY + dt.timedelta(hours=2)) == 0
    assert len(notifier.to("U0LI")) == 1
    csm = notifier.to("U0MAYA")
    assert len(csm) == 1 and "ft_missed_report" in str(csm[0][3]) and "Acme Corp" in csm[0][2]


def test_overdue_retried_when_slack_is_busy(rt, rows, notifier, send) -> None:  # type: ignore[no-untyped-def]
    run = followup_jobs.run_followups
    rows.person("U0LI")
    rows.commitment("U0LI", "Ship the fix", dt.date(2026, 11, 25))
    notifier.fail_for = {
        "U0LI": DeliveryError("429", retryable=True, code="ratelimited", retry_after=30)
    }
    assert send(run, rt, notifier, FRI_10_NY) == 0
    notifier.fail_for = {}
    assert send(run, rt, notifier, FRI_10_NY + dt.timedelta(minutes=1)) == 1
    assert send(run, rt, notifier, FRI_10_NY + dt.timedelta(hours=1)) == 0


def test_close_loop_offer_and_send_once(rt, rows, notifier) -> None:  # type: ignore[no-untyped-def]
    rows.person("U0MAYA", real_name="Maya Chen")
    acct = rows.account("Acme Corp", slack_channel_id="C0ACME")
    with session_scope(rt.engine) as s:
        s.add(
            Contact(
                team_id="T0TEST",
                account_id=acct,
                name="Dana Ruiz",
                email="dana@acme.com",
                role="champion",
            )
        )
    cid = rows.commitment("U0MAYA", "Send the SSO setup guide", MON, account_id=acct)
    theirs = rows.commitment("U0MAYA", "Customer sends logs", MON, side="customer")
    with session_scope(rt.engine) as s:
        cm.transition(s, "T0TEST", cid, "done", "U0MAYA")
        cm.transition(s, "T0TEST", theirs, "done", "U0MAYA")
    assert followup.offer_close_loop(rt, notifier, "T0TEST", cid, "U0MAYA")
    assert not followup.offer_close_loop(rt, notifier, "T0TEST", theirs, "U0MAYA")
    offer = str(notifier.dms[0][3])
    assert "Hi Dana" in offer and "Maya" in offer and "ft_close_loop_send" in offer
    assert notifier.posts == []  # nothing leaves before the Yes
    assert "Sent" in followup.send_close_loop(rt, notifier, "T0TEST", cid, "U0MAYA")
    assert "already" in followup.send_close_loop(rt, notifier, "T0TEST", cid, "U0MAYA")
    assert "Only" in followup.send_close_loop(rt, notifier, "T0TEST", cid, "U0SAM")
    assert len(notifier.posts) == 1 and notifier.posts[0][0] == "C0ACME"
    with session_scope(rt.engine) as s:
        acts = [a.action for a in s.exec(select(AuditEvent).where(AuditEvent.entity_id == cid))]
        assert "close_loop" in acts
        assert s.get(Commitment, cid).status == "done"  # type: ignore[union-attr]
