"""A signal from a stand-in becomes one suggested case for the right CSM; Start runs its
playbook; repeats add to it; Not now and Dismiss behave; clicks are checked."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.devtools.webhook_senders import signal
from bot.models import Case, CaseStatus, CaseStep
from bot.signals.blocks import DISMISS, SNOOZE, START

from .conftest import NOW, Signals


def test_health_drop_becomes_one_suggestion_and_start_runs_the_playbook(sig: Signals) -> None:
    w = sig.world
    acme = w.seed_account()
    ans = sig.sender.post(signal("acme.com", "health_score", 35, 72, reason="Usage down 40% WoW"))
    assert ans.status == 202 and ans.body["accepted"] == 1
    sig.tick()
    dm = sig.dm("U0MAYA", "Suggested case")
    text = str(dm["blocks"])
    assert "Acme Corp" in text and "health_score" in text and "vitally" in text and "35" in text
    assert "Usage down 40% WoW" in text
    # a repeat adds to the same suggestion, never a second one
    assert sig.sender.post(signal("acme.com", "health_score", 31, 35)).status == 202
    sig.tick(NOW + dt.timedelta(minutes=5))
    [one] = sig.suggestions()
    assert one.signal_count >= 2 and one.account_id == acme.id and one.csm_user_id == "U0MAYA"
    # someone else cannot start it
    w.driver.block_action(START, user_id="U0SAM", message=dm)
    w.standin.wait_for("response_url", lambda c: "Only" in str(c.args.get("text")))
    w.driver.block_action(START, user_id="U0MAYA", message=dm)
    sig.updated("U0MAYA", "is running")
    with w.session() as s:
        case = s.exec(select(Case)).one()
        assert case.status == CaseStatus.RUNNING and case.risk_key == "usage_dip"
        assert "health_score 35" in case.context
        steps = s.exec(select(CaseStep).where(CaseStep.case_id == case.id)).all()
        assert steps and steps[0].due_at is not None
    [one] = sig.suggestions()
    assert one.status == "started" and one.case_id == case.id
    # a stale second click gets a clear answer
    w.driver.block_action(START, user_id="U0MAYA", message=dm)
    w.standin.wait_for("response_url", lambda c: "already started" in str(c.args.get("text")))


def test_not_now_then_dismiss_with_reason_is_remembered(sig: Signals) -> None:
    w = sig.world
    w.seed_account()
    sig.sender.post(signal("acme.com", "health_score", 30))
    sig.tick()
    dm = sig.dm("U0MAYA", "Suggested case")
    w.driver.block_action(SNOOZE, user_id="U0MAYA", message=dm)
    w.standin.wait_for("response_url", lambda c: "Put aside" in str(c.args.get("text")))
    [s1] = sig.suggestions()
    assert s1.status == "snoozed"
    # the snooze ends: a fresh DM
    sig.tick(NOW + dt.timedelta(days=3, minutes=1))
    again = [m for m in w.standin.messages("U0MAYA") if "Suggested case" in str(m.get("text"))]
    assert len(again) == 2
    dm = again[-1] | {"channel": w.standin.dm_channel("U0MAYA")}
    w.driver.block_action(DISMISS, user_id="U0MAYA", message=dm)
    w.standin.wait_for("views.open", lambda c: "reason" in str(c.args.get("view")))
    modal = w.standin.open_views("U0MAYA")[-1]
    resp = w.driver.view_submission(modal, {"reason": ""}, user_id="U0MAYA")
    assert "reason" in str(resp.json)
    w.driver.view_submission(modal, {"reason": "Planned migration week"}, user_id="U0MAYA")
    [s1] = sig.suggestions()
    assert s1.status == "dismissed" and s1.dismiss_reason == "Planned migration week"
    # within the cooldown a new signal is counted against the dismissal, not re-suggested
    sig.sender.post(signal("acme.com", "health_score", 20))
    sig.tick(NOW + dt.timedelta(days=4))
    [s1] = sig.suggestions()
    assert s1.status == "dismissed" and s1.signal_count == 2
    # after the cooldown a new suggestion opens
    sig.sender.post(signal("acme.com", "health_score", 19, at=NOW + dt.timedelta(days=40)))
    sig.tick(NOW + dt.timedelta(days=40))
    assert [s.status for s in sig.suggestions()] == ["dismissed", "open"]


def test_cs_report_shows_signals_to_outcomes(sig: Signals) -> None:
    from bot.cases.decisions import close_case

    w = sig.world
    w.seed_account()
    w.seed_account("Globex", "globex.com", contacts=[])
    sig.sender.post(signal("acme.com", "health_score", 30))
    sig.sender.post(signal("globex.com", "health_score", 25))
    sig.sender.post(signal("unknown.example", "health_score", 10))
    sig.tick()
    dms = [m for m in w.standin.messages("U0MAYA") if "Suggested case" in m["text"]]
    assert len(dms) == 2
    acme_dm = next(m for m in dms if "Acme" in m["text"]) | {
        "channel": w.standin.dm_channel("U0MAYA")
    }
    w.driver.block_action(START, user_id="U0MAYA", message=acme_dm)
    sig.updated("U0MAYA", "is running")
    with w.session() as s:
        case = s.exec(select(Case)).one()
        close_case(s, case, "saved", "U0MAYA", NOW + dt.timedelta(days=2))
    sig.tick(NOW + dt.timedelta(days=2))
    w.driver.command("/cs-report", "30d", user_id="U0ANA")
    report = sig.dm("U0ANA", "Signals:")
    text = str(report["blocks"])
    assert "3 received (1 for unknown accounts)" in text and "2 suggested" in text
    assert "Health score below 40: 2 → 0 dismissed, 1 waiting, 1 case(s) → 1 saved" in text
    assert "unknown.example" in text
    w.standin.wait_for("files.getUploadURLExternal", lambda c: "signals-funnel" in str(c.args))
