"""Slack-level: a whole case driven by `world.tick(now)` and signed clicks, from the first DM
through a reminder, an escalation, Yes, Edit and No to "Resolved — saved"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from bot.audit import history
from bot.cases.blocks import (
    ANSWER_NOT_YET,
    ANSWER_SAVED,
    EDIT,
    NO,
    REASSIGN,
    YES,
)
from bot.cases.engine import start_case
from bot.models import Case, CaseStep

TEAM = "T0TEST"
MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        el.get("action_id", "")
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for el in b.get("elements", [])
    ]


def texts(message: dict[str, Any]) -> str:
    return str(message)


def last_dm(world: Any, user: str, has: str = "") -> dict[str, Any]:
    """The newest DM from the app to `user` whose text contains `has` (other features DM too)."""
    found = [m for m in world.standin.messages(user) if has in m.get("text", "")]
    assert found, f"no DM to {user} containing {has!r}"
    return found[-1]


def by_ts(world: Any, user: str, ts: str) -> dict[str, Any]:
    return next(m for m in world.standin.messages(user) if m["ts"] == ts)


def calls(world: Any, method: str) -> int:
    return len(world.standin.calls(method))


def wait_more(world: Any, method: str, before: int, n: int = 1) -> None:
    world.standin.wait_for(method, before + n)


def start(world: Any, case_id: int, at: dt.datetime) -> None:
    with world.session() as s:
        start_case(s, TEAM, case_id, "U0MAYA", at, settings=world.settings)


def steps(world: Any, case_id: int) -> list[CaseStep]:
    with world.session() as s:
        return list(
            s.exec(select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.position))
        )


def test_case_runs_to_resolved_saved(slack: Any, kit: Any) -> None:
    world = slack
    case_id = kit.make_case(world.rt.engine, people=False)
    start(world, case_id, MON_9AM_NY - dt.timedelta(hours=6))  # 3 a.m. in New York

    assert world.tick(MON_9AM_NY - dt.timedelta(hours=5))["cases.steps_due"] == 0
    assert not [m for m in world.standin.messages("U0MAYA") if "Step" in m["text"]]

    # Monday 09:00: the first DM, with Yes / No / Edit
    assert world.tick(MON_9AM_NY)["cases.steps_due"] == 1
    first = last_dm(world, "U0MAYA", "Step 1")
    assert buttons(first) == [YES, EDIT, NO]
    assert "usage dropped 40%" in texts(first) and "Acme Corp" in texts(first)
    assert world.tick(MON_9AM_NY + dt.timedelta(hours=1))["cases.steps_due"] == 0

    # 24 working hours later (Wednesday 15:00 NY) one reminder; the old DM loses its buttons
    assert world.tick(MON_9AM_NY + dt.timedelta(days=2, hours=5))["cases.followups"] == 0
    assert world.tick(MON_9AM_NY + dt.timedelta(days=2, hours=7))["cases.followups"] == 1
    reminder = last_dm(world, "U0MAYA", "Reminder: Step 1")
    assert buttons(reminder) == [YES, EDIT, NO]
    assert buttons(by_ts(world, "U0MAYA", first["ts"])) == []
    assert world.tick(MON_9AM_NY + dt.timedelta(days=2, hours=8))["cases.followups"] == 0

    # 48 working hours: the owner and their manager are told, with a Reassign control
    assert world.tick(MON_9AM_NY + dt.timedelta(days=7, hours=5))["cases.followups"] == 1
    told = last_dm(world, "U0OMAR", "waited 48 working hours")
    assert REASSIGN in str(told)
    assert last_dm(world, "U0MAYA", "waited 48 working hours")
    assert world.tick(MON_9AM_NY + dt.timedelta(days=8))["cases.followups"] == 0

    # Yes on the reminder: the message is posted to #cs-risk once, the DM updated in place
    before = calls(world, "chat.update")
    world.driver.block_action(YES, user_id="U0MAYA", message=reminder)
    world.standin.wait_for(
        "chat.postMessage", predicate=lambda c: c.args.get("channel") == "C0CSRISK"
    )
    wait_more(world, "chat.update", before)
    posted = [m for m in world.standin.messages("C0CSRISK") if "usage dropped" in m["text"]]
    assert len(posted) == 1
    world.standin.wait_for(
        "chat.postMessage", predicate=lambda c: "resolved" in str(c.args.get("text"))
    )
    updated = by_ts(world, "U0MAYA", reminder["ts"])
    assert buttons(updated) == [] and "Yes" in str(updated) and "<@U0MAYA>" in str(updated)
    question = last_dm(world, "U0MAYA", "resolved?")
    assert buttons(question) == [ANSWER_SAVED, "case_churned", ANSWER_NOT_YET]

    # Not yet → step 2 after its one-day delay
    world.driver.block_action(ANSWER_NOT_YET, user_id="U0MAYA", message=question)
    world.standin.wait_for("response_url")
    second_due = steps(world, case_id)[1]
    assert second_due.status == "scheduled"
    now = MON_9AM_NY + dt.timedelta(days=9, hours=1)
    assert world.tick(now)["cases.steps_due"] == 1
    email_dm = last_dm(world, "U0MAYA", "Step 2")
    assert "Email the economic buyer" in email_dm["text"]

    # Edit: a modal with the draft; submit records both versions (email → done by hand)
    before = calls(world, "views.open")
    world.driver.block_action(EDIT, user_id="U0MAYA", message=email_dm)
    wait_more(world, "views.open", before)
    modal = world.standin.open_views("U0MAYA")[-1]
    before_post = calls(world, "chat.postMessage")
    resp = world.driver.view_submission(
        modal, {"draft": "Subject: Quick call?\n\nHi Lee — 20 minutes on Thursday?"}
    )
    assert resp.status == 200 and resp.problems == []
    wait_more(world, "chat.postMessage", before_post)
    s2 = steps(world, case_id)[1]
    assert s2.status == "done" and s2.decision == "edit"
    assert s2.draft.startswith("Subject: Checking in") and "Thursday" in (s2.final_text or "")
    edited = world.standin.wait_message(
        "U0MAYA", lambda m: m["ts"] == email_dm["ts"] and "mailto:lee@acme.com" in str(m)
    )
    assert buttons(edited) == []
    world.driver.block_action(
        ANSWER_NOT_YET, user_id="U0MAYA", message=last_dm(world, "U0MAYA", "resolved?")
    )
    world.standin.wait_for("response_url", 2)

    # No, with a reason → skipped; then "Resolved — saved"
    assert world.tick(now + dt.timedelta(days=1, hours=1))["cases.steps_due"] == 1
    call_dm = last_dm(world, "U0MAYA", "Step 3")
    before = calls(world, "views.open")
    world.driver.block_action(NO, user_id="U0MAYA", message=call_dm)
    wait_more(world, "views.open", before)
    before_post = calls(world, "chat.postMessage")
    world.driver.view_submission(
        world.standin.open_views("U0MAYA")[-1], {"reason": "Dana is on leave"}
    )
    wait_more(world, "chat.postMessage", before_post)
    assert steps(world, case_id)[2].status == "skipped"
    assert steps(world, case_id)[2].reason == "Dana is on leave"
    world.driver.block_action(
        ANSWER_SAVED, user_id="U0MAYA", message=last_dm(world, "U0MAYA", "resolved?")
    )
    world.standin.wait_for("response_url", 3)

    with world.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == ("resolved", "saved")
        assert (case.resolution_step, case.total_steps) == (3, 4)
        assert case.resolved_at is not None
        actions = [e.action for e in history(s, TEAM, "case", case_id)]
        assert actions[0] == "started" and actions[-1] == "saved"
    assert [x.status for x in steps(world, case_id)] == ["done", "done", "skipped", "cancelled"]
