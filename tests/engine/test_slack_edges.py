"""Slack-level edges: Slack failing, double clicks, people who may not decide, /case control."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.cases.blocks import (
    ANSWER_NOT_YET,
    CASE_CHURN,
    CASE_NOTE,
    CASE_PAUSE,
    CASE_REASSIGN,
    CASE_RESUME,
    CASE_SKIP,
    YES,
)
from bot.cases.engine import start_case
from bot.models import Case, CaseStep
from bot.scheduler import run_due
from bot.slack.outbound import SlackNotifier

TEAM = "T0TEST"
MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def started_case(world: Any, kit: Any, **kw: Any) -> int:
    case_id = kit.make_case(world.rt.engine, people=False, **kw)
    with world.session() as s:
        start_case(s, TEAM, case_id, "U0MAYA", MON_9AM_NY, settings=world.settings)
    return case_id


def step_dm(world: Any, user: str, n: int = 1) -> dict[str, Any]:
    found = [m for m in world.standin.messages(user) if m["text"].startswith(f"Step {n} ")]
    assert found, f"no DM for step {n}"
    return found[-1]


def step(world: Any, case_id: int, position: int = 1) -> CaseStep:
    with world.session() as s:
        return s.exec(
            select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.position == position)
        ).one()


def question(world: Any, user: str, case_id: int, position: int = 1) -> dict[str, Any]:
    """The "Is the risk resolved?" DM asked after step `position`, once it has arrived."""
    return world.standin.wait_button(user, ANSWER_NOT_YET, f"{case_id}:{position}")


def answered(world: Any, clicked: Any) -> Any:
    """The app's answer to one click (through its response_url), once it came."""
    return world.standin.wait_reply(clicked)


def channel_posts(world: Any, channel: str, needle: str) -> list[dict[str, Any]]:
    return [m for m in world.standin.messages(channel) if needle in m["text"]]


@pytest.mark.parametrize("fault", [{"error": "ratelimited", "retry_after": 1}, {"status": 500}])
def test_slack_429_or_500_delays_the_step(slack: Any, kit: Any, fault: dict) -> None:
    world = slack
    # a client without sleeping retry handlers: the engine itself reschedules
    notifier = SlackNotifier(WebClient(base_url=world.standin.api_url, token=f"xoxb-{TEAM}"))
    case_id = started_case(world, kit)
    world.standin.fail("chat.postMessage", times=None, **fault)
    done = run_due(world.rt, notifier, MON_9AM_NY)
    assert done["cases.steps_due"] == 1 and done["outbox.send"] == 0  # queued; Slack said no
    row = step(world, case_id)
    assert row.status == "awaiting" and row.dm_ts is None
    world.standin.clear_faults()
    run_due(world.rt, notifier, MON_9AM_NY + dt.timedelta(seconds=10))
    run_due(world.rt, notifier, MON_9AM_NY + dt.timedelta(minutes=5))
    run_due(world.rt, notifier, MON_9AM_NY + dt.timedelta(minutes=10))
    assert len([m for m in world.standin.messages("U0MAYA") if m["text"].startswith("Step 1")]) == 1
    assert step(world, case_id).dm_ts


def test_double_yes_sends_one_message(slack: Any, kit: Any) -> None:
    world = slack
    case_id = started_case(world, kit)
    world.tick(MON_9AM_NY)
    dm = step_dm(world, "U0MAYA")
    barrier = threading.Barrier(2)

    def click() -> None:
        barrier.wait()
        world.driver.block_action(YES, user_id="U0MAYA", message=dm)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    world.standin.wait_for("response_url", lambda c: "already decided" in str(c.args.get("text")))
    question(world, "U0MAYA", case_id)
    assert len(channel_posts(world, "C0CSRISK", "usage dropped 40%")) == 1
    # a third, late click on the old message: polite answer, still one message
    late = world.driver.block_action(YES, user_id="U0MAYA", message=dm)
    world.standin.wait_reply(late, "already decided")
    assert len(channel_posts(world, "C0CSRISK", "usage dropped 40%")) == 1


def test_only_assignee_owner_or_admin_may_decide(slack: Any, kit: Any) -> None:
    world = slack
    case_id = started_case(world, kit)
    world.tick(MON_9AM_NY)
    dm = step_dm(world, "U0MAYA")
    call = answered(world, world.driver.block_action(YES, user_id="U0SAM", message=dm))
    assert "Only <@U0MAYA> or a CS admin can decide" in call.args["text"]
    assert call.args.get("response_type") == "ephemeral"
    assert step(world, case_id).status == "awaiting"
    world.driver.block_action(YES, user_id="U0ANA", message=dm)  # CS admin
    question(world, "U0ANA", case_id)  # whoever decided is asked
    row = step(world, case_id)
    assert row.decided_by == "U0ANA" and row.status == "done"


def test_case_command_and_controls(slack: Any, kit: Any) -> None:
    world = slack
    case_id = started_case(world, kit)
    listing = world.driver.command("/case", "list", user_id="U0MAYA")
    assert f"#{case_id}" in str(listing.json) and listing.problems == []
    card = world.driver.command("/case", str(case_id), user_id="U0MAYA")
    assert card.problems == [] and "Acme Corp" in str(card.json)
    shown = world.standin.ephemerals(user="U0MAYA")[-1]

    # pause: nothing falls due; resume: the DM comes at the next tick
    answered(world, world.driver.block_action(CASE_PAUSE, user_id="U0MAYA", message=shown))
    assert world.tick(MON_9AM_NY)["cases.steps_due"] == 0
    shown = world.standin.ephemerals(user="U0MAYA")[-1]
    assert CASE_RESUME in str(shown)
    answered(world, world.driver.block_action(CASE_RESUME, user_id="U0MAYA", message=shown))
    assert world.tick(MON_9AM_NY + dt.timedelta(minutes=1))["cases.steps_due"] == 1

    # someone else cannot control the case
    shown = world.standin.ephemerals(user="U0MAYA")[-1]
    refused = answered(world, world.driver.block_action(CASE_SKIP, user_id="U0SAM", message=shown))
    assert "can change this case" in refused.args["text"]

    # skip ahead: step 1 skipped (its DM updated), step 2 scheduled now
    answered(world, world.driver.block_action(CASE_SKIP, user_id="U0MAYA", message=shown))
    assert step(world, case_id, 1).status == "skipped"
    world.standin.wait_message(
        "U0MAYA", lambda m: m["text"].startswith("Step 1 ") and "Skipped ahead" in str(m)
    )
    assert "Skipped ahead" in str(step_dm(world, "U0MAYA", 1))
    assert step(world, case_id, 2).status == "scheduled"

    # reassign the current step to Li, who gets it in Los Angeles working hours
    shown = world.standin.ephemerals(user="U0MAYA")[-1]
    answered(
        world,
        world.driver.block_action(
            CASE_REASSIGN, user_id="U0MAYA", message=shown, selected_user="U0LI"
        ),
    )
    assert step(world, case_id, 2).assignee_user_id == "U0LI"
    assert world.tick(MON_9AM_NY + dt.timedelta(minutes=2))["cases.steps_due"] == 0  # 6 a.m. LA
    assert world.tick(MON_9AM_NY + dt.timedelta(hours=3))["cases.steps_due"] == 1
    assert step_dm(world, "U0LI", 2)

    # a note, then churned at any point
    shown = world.standin.ephemerals(user="U0MAYA")[-1]
    modal = world.standin.wait_view(
        world.driver.block_action(CASE_NOTE, user_id="U0MAYA", message=shown)
    )
    assert modal["id"] == world.standin.open_views("U0MAYA")[-1]["id"]
    assert world.driver.view_submission(modal, {"note": "Champion left"}).status == 200
    answered(world, world.driver.block_action(CASE_CHURN, user_id="U0MAYA", message=shown))
    world.standin.wait_message(
        "U0LI", lambda m: m["text"].startswith("Step 2 ") and "Case closed" in str(m)
    )
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and (case.status, case.outcome) == ("churned", "churned")
        assert "Champion left" in case.notes and case.resolution_step == 2
    assert step(world, case_id, 2).status == "cancelled"
    world.standin.wait_until(  # the step's DM is edited through the outbox: wait for it
        lambda: "Case closed" in str(step_dm(world, "U0LI", 2)) or None,
        what="step 2's DM to say the case closed",
    )


def test_last_step_not_yet_asks_owner_to_close_or_extend(slack: Any, kit: Any) -> None:
    world = slack
    case_id = started_case(world, kit, steps=[{**kit.DEFAULT_STEPS[2], "delay_seconds": 0}])
    world.tick(MON_9AM_NY)
    world.driver.block_action(YES, user_id="U0MAYA", message=step_dm(world, "U0MAYA"))
    msg = question(world, "U0MAYA", case_id)
    not_yet = world.driver.block_action(ANSWER_NOT_YET, user_id="U0MAYA", message=msg)
    world.standin.wait_message("U0MAYA", lambda m: "still open" in m["text"])
    reply = answered(world, not_yet)
    assert "Not yet" in reply.args["text"]
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "awaiting_close"
