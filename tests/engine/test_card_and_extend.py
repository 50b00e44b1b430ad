"""Slack-level: the case card follows the engine, Start uses the app's settings, a channel
recipient by name, and "extend with another playbook" — all through signed requests."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from bot import clock
from bot.audit import history
from bot.cases import card_sync, plan_edits
from bot.cases.blocks import (
    ANSWER_NOT_YET,
    ANSWER_SAVED,
    CASE_CHURN,
    CASE_EXTEND,
    CASE_NOTE,
    CASE_PAUSE,
    CASE_RESOLVE,
    CASE_RESUME,
    CASE_SKIP,
    YES,
)
from bot.cases.report import ReportRequest, report_risk
from bot.devtools.standin.blockkit import validate_message_blocks
from bot.devtools.world import World
from bot.models import Case, CaseStep
from bot.outbox.scheduled import kick
from bot.playbooks.service import ensure_seeded_once, save_yaml

FRI_1830_NY = dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC)
MON_9_NY = dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)  # EDT from 8 March: UTC−4

QUICK = """\
key: quick_check
name: Quick check
summary: One internal step, for cases that need a first look before a real playbook.
steps:
  - id: look
    summary: CSM takes a first look at the account
    assignee: csm
    delay: 0
    medium: internal
    message: |
      Look at {account.name}: {context}
"""

ESCALATE = """\
key: escalate_drill
name: Escalation drill
summary: Tell the escalations channel what is at stake, then call the champion.
steps:
  - id: tell_channel
    summary: CSM tells the escalations channel what is at stake
    assignee: csm
    recipient: "channel:#cs-escalations"
    delay: 0
    medium: slack
    message: |
      {account.name} is at risk: {context}
  - id: call
    summary: CSM calls the champion
    assignee: csm
    recipient: contact:champion
    delay: 1d
    medium: call
    message: |
      Call {recipient.first_name} about {account.name}.
"""


def reported(world: Any, risk: str, reporter: str = "U0SAM", yaml: str | None = None) -> int:
    """A risk reported (the /report-risk service) with its card posted, as the modal does."""
    ensure_seeded_once(world.rt.engine, world.team_id)
    if yaml:
        with world.session() as s:
            save_yaml(s, world.team_id, yaml, "U0ANA")
    account = world.seed_account("Acme Corp", "acme.com")
    result = report_risk(
        world.rt.engine,
        ReportRequest(
            world.team_id,
            risk,
            "Usage fell 40% after their reorg.",
            reporter,
            account_id=account.id,
        ),
        now=FRI_1830_NY - dt.timedelta(hours=8),
    )
    with world.session() as s:
        card_sync.announce(s, result.case, world.settings.cs_channel)
    kick(world.rt, world.notifier, world.team_id)
    return result.case.id or 0


def case_row(world: Any, case_id: int) -> Case:
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def steps(world: Any, case_id: int) -> list[CaseStep]:
    with world.session() as s:
        return list(
            s.exec(select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.position))
        )


def card(world: Any, case_id: int) -> dict[str, Any]:
    ts = case_row(world, case_id).card_ts
    return next(m for m in world.standin.messages("C0CSRISK") if m["ts"] == ts)


def card_after(world: Any, case_id: int, act: Callable[[], Any]) -> dict[str, Any]:
    """Do `act`, wait until the app re-rendered the card in #cs-risk and in the reporter's
    DM, return the #cs-risk card."""
    row = case_row(world, case_id)
    places = {(row.card_channel, row.card_ts), (row.reporter_channel, row.reporter_ts)}

    def on_card(c: Any) -> bool:
        return (c.args.get("channel"), c.args.get("ts")) in places

    def updates() -> int:
        return len([c for c in world.standin.calls("chat.update") if on_card(c)])

    before = updates()
    act()
    world.standin.wait_for("chat.update", before + 2, timeout=10, predicate=on_card)
    # A refresh from an earlier change may still be landing: wait until the card settles.
    deadline, seen = time.monotonic() + 5, updates()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now_seen = updates()
        if now_seen == seen:
            break
        seen = now_seen
    return card(world, case_id)


def actions_in(message: dict[str, Any]) -> list[str]:
    out = []
    for block in message.get("blocks", []):
        for el in block.get("elements", []) if block["type"] == "actions" else []:
            out.append(el.get("action_id", ""))
        if block.get("accessory"):
            out.append(block["accessory"].get("action_id", ""))
    return out


def dm_with(world: Any, user: str, has: str) -> dict[str, Any]:
    found = [m for m in world.standin.messages(user) if has in m.get("text", "")]
    assert found, f"no DM to {user} with {has!r}"
    return found[-1]


def click_start(world: Any, case_id: int, at: dt.datetime, user: str = "U0MAYA") -> dict:
    clock.set_now(at)
    return card_after(
        world,
        case_id,
        lambda: world.driver.block_action("case_start", user_id=user, message=card(world, case_id)),
    )


def test_start_from_the_card_uses_the_apps_working_hours(database_url: str) -> None:
    with World(database_url, workday_start_hour=7) as world:
        case_id = reported(world, "usage_dip")
        click_start(world, case_id, FRI_1830_NY)
        first = steps(world, case_id)[0]
        assert first.status == "scheduled"
        # Monday 07:00 in New York (the app's WORKDAY_START_HOUR), not the default 09:00
        assert clock.as_utc(first.due_at) == MON_9_NY - dt.timedelta(hours=2)


def test_case_card_follows_every_change(slack: Any) -> None:
    world = slack
    case_id = reported(world, "usage_dip")
    plan_edits.apply_edit(world.rt.engine, world.team_id, case_id, 4, "drop", None, "U0SAM", [])
    planned = card(world, case_id)
    assert "case_start" in actions_in(planned) and "case_step_menu" in actions_in(planned)

    started = click_start(world, case_id, FRI_1830_NY)
    assert not validate_message_blocks(started["blocks"])
    controls = actions_in(started)
    assert "case_start" not in controls and "case_step_menu" not in controls
    assert {CASE_PAUSE, CASE_SKIP, CASE_NOTE, CASE_RESOLVE, CASE_CHURN} <= set(controls)
    assert "scheduled for" in str(started) and "running" in str(started)
    assert case_row(world, case_id).total_steps == 5  # six planned, one dropped
    reporter_card = next(
        m
        for m in world.standin.messages("U0SAM")
        if m["ts"] == case_row(world, case_id).reporter_ts
    )
    assert reporter_card["blocks"] == started["blocks"]

    awaiting = card_after(world, case_id, lambda: world.tick(MON_9_NY))
    assert "awaiting <@U0MAYA>" in str(awaiting)

    step1 = dm_with(world, "U0MAYA", "Step 1")
    done = card_after(
        world, case_id, lambda: world.driver.block_action(YES, user_id="U0MAYA", message=step1)
    )
    assert "done by <@U0MAYA>" in str(done)

    question = dm_with(world, "U0MAYA", "resolved?")
    nxt = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(ANSWER_NOT_YET, user_id="U0MAYA", message=question),
    )
    assert "← current" in str(nxt) and "scheduled for" in str(nxt)

    paused = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(
            CASE_PAUSE, user_id="U0MAYA", message=card(world, case_id)
        ),
    )
    assert "paused" in str(paused) and CASE_RESUME in actions_in(paused)
    resumed = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(CASE_RESUME, user_id="U0MAYA", message=paused),
    )
    assert CASE_PAUSE in actions_in(resumed)

    before = len(world.standin.calls("views.open"))
    world.driver.block_action(CASE_NOTE, user_id="U0MAYA", message=resumed)
    world.standin.wait_for("views.open", before + 1)
    noted = card_after(
        world,
        case_id,
        lambda: world.driver.view_submission(
            world.standin.open_views("U0MAYA")[-1], {"note": "Their admin is rebuilding SSO."}
        ),
    )
    assert "rebuilding SSO" in str(noted)

    clock.set_now(MON_9_NY + dt.timedelta(days=3))
    closed = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(CASE_RESOLVE, user_id="U0MAYA", message=noted),
    )
    assert "saved at step 2 of 5" in str(closed) and "5.9 days" in str(closed)
    assert not [a for a in actions_in(closed) if a.startswith("case_")]

    record = case_row(world, case_id)
    assert (record.status, record.outcome) == ("resolved", "saved")
    assert (record.resolution_step, record.total_steps) == (2, 5)
    took = clock.as_utc(record.resolved_at) - clock.as_utc(record.opened_at)
    assert took == dt.timedelta(days=5, hours=21, minutes=30)
    assert "rebuilding SSO" in record.notes and "at step 2 of 5" in record.notes
    with world.session() as s:
        saved = [e for e in history(s, world.team_id, "case", case_id) if e.action == "saved"]
    assert saved and saved[0].detail["hours_to_resolve"] == 141.5


def test_channel_recipient_by_name_gets_the_post_after_yes(slack: Any) -> None:
    world = slack
    world.standin.add_channel(world.team_id, "C0ESC", "cs-escalations", ["U0MAYA"])
    case_id = reported(world, "escalate_drill", yaml=ESCALATE)
    assert steps(world, case_id)[0].recipient_ref == "#cs-escalations"
    click_start(world, case_id, FRI_1830_NY)
    world.tick(MON_9_NY)
    done = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(
            YES, user_id="U0MAYA", message=dm_with(world, "U0MAYA", "Step 1")
        ),
    )
    assert "done by <@U0MAYA>" in str(done)
    [posted] = world.standin.messages("C0ESC")
    assert posted["text"].startswith("Acme Corp is at risk: Usage fell 40%")
    first = steps(world, case_id)[0]
    assert first.status == "done" and first.delivered_ts == posted["ts"]


def _to_last_step_done(world: Any) -> tuple[int, dict[str, Any]]:
    case_id = reported(world, "quick_check", reporter="U0MAYA", yaml=QUICK)
    click_start(world, case_id, FRI_1830_NY)
    world.tick(MON_9_NY)
    card_after(
        world,
        case_id,
        lambda: world.driver.block_action(
            YES, user_id="U0MAYA", message=dm_with(world, "U0MAYA", "Step 1")
        ),
    )
    closing = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(
            ANSWER_NOT_YET, user_id="U0MAYA", message=dm_with(world, "U0MAYA", "resolved?")
        ),
    )
    # every step is done: the card offers closing (and notes), no pause / skip / reassign
    assert "awaiting close" in str(closing)
    assert set(actions_in(closing)) == {CASE_NOTE, CASE_RESOLVE, CASE_CHURN}
    return case_id, dm_with(world, "U0MAYA", "still open")


def test_extend_with_another_playbook(slack: Any) -> None:
    world = slack
    case_id, ask = _to_last_step_done(world)
    assert case_row(world, case_id).status == "awaiting_close"
    select_el = next(
        el
        for b in ask["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el.get("action_id") == CASE_EXTEND
    )
    offered = [o["value"] for o in select_el["options"]]
    assert f"{case_id}:usage_dip" in offered and f"{case_id}:quick_check" not in offered
    assert len(offered) == 7  # the seven seed playbooks; the one in use is left out

    # only the owner (or a CS admin) may extend; others are told who can, nothing changes
    world.driver.block_action(CASE_EXTEND, f"{case_id}:usage_dip", user_id="U0SAM", message=ask)
    world.standin.wait_for(
        "response_url",
        predicate=lambda c: "Only <@U0MAYA> or a CS admin" in str(c.args.get("text")),
    )
    assert "Only <@U0MAYA> or a CS admin" in str(world.standin.ephemerals(user="U0SAM"))
    assert len(steps(world, case_id)) == 1

    clock.set_now(MON_9_NY + dt.timedelta(hours=9, minutes=30))  # Monday 18:30: after hours
    extended = card_after(
        world,
        case_id,
        lambda: world.driver.block_action(
            CASE_EXTEND, f"{case_id}:usage_dip", user_id="U0MAYA", message=ask
        ),
    )
    world.standin.wait_for(
        "response_url", predicate=lambda c: "extended with" in str(c.args.get("text"))
    )
    rows = steps(world, case_id)
    assert [x.position for x in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert rows[1].summary.startswith("CSM breaks down the dip") and rows[1].draft
    assert rows[2].assignee_user_id == "U0RITA"  # support lead resolved like a new report
    assert rows[3].recipient_label.startswith("Dana Ruiz")
    assert rows[1].status == "scheduled"
    assert clock.as_utc(rows[1].due_at) == MON_9_NY + dt.timedelta(days=1)  # Tuesday 09:00
    assert all(x.status == "planned" for x in rows[2:])
    record = case_row(world, case_id)
    assert (record.status, record.total_steps, record.current_step) == ("running", 7, 2)
    [ext] = record.gathered["extensions"]
    assert (ext["key"], ext["version"], ext["from_position"]) == ("usage_dip", 1, 2)
    assert len(record.gathered["plan"]) == 7
    with world.session() as s:
        assert "extended" in [e.action for e in history(s, world.team_id, "case", case_id)]
    assert "usage_dip v1" in str(extended) and "CSM breaks down the dip" in str(extended)
    answered = [
        c for c in world.standin.calls("response_url") if "extended with" in str(c.args.get("text"))
    ]
    assert "Usage dip" in str(answered[-1].args)

    # choosing again (a stale select) changes nothing
    world.driver.block_action(CASE_EXTEND, f"{case_id}:budget_cut", user_id="U0MAYA", message=ask)
    world.standin.wait_for(
        "response_url", predicate=lambda c: "is running" in str(c.args.get("text"))
    )
    assert "is running" in str(world.standin.ephemerals(user="U0MAYA"))
    assert len(steps(world, case_id)) == 7

    # the new steps run like any other: Tuesday 09:00 the next one reaches its assignee
    assert world.tick(MON_9_NY + dt.timedelta(days=1))["cases.steps_due"] == 1
    assert "Step 2 of 7" in str(dm_with(world, "U0MAYA", "Step 2"))
    world.driver.block_action(YES, user_id="U0MAYA", message=dm_with(world, "U0MAYA", "Step 2"))
    world.standin.wait_for(
        "chat.postMessage", 2, predicate=lambda c: "resolved?" in str(c.args.get("text"))
    )
    world.driver.block_action(
        ANSWER_SAVED, user_id="U0MAYA", message=dm_with(world, "U0MAYA", "resolved?")
    )
    world.standin.wait_for("response_url", predicate=lambda c: "saved" in str(c.args.get("text")))
    record = case_row(world, case_id)
    assert (record.outcome, record.resolution_step, record.total_steps) == ("saved", 2, 7)
