"""A week of playbook in seconds: `tick --now` moves time, people answer Yes / Edit / No, a
reminder and an escalation happen on the way, and the case closes as "Resolved — saved"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.cases.engine import start_case
from bot.cases.step_messages import ANSWER_NOT_YET, ANSWER_SAVED, EDIT, NO, YES
from bot.devtools.world import CS_CHANNEL, World
from bot.models import Account, Case, CaseStatus, CaseStep, Playbook

MONDAY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
STEPS = [
    ("Ask #cs-risk who has context", "slack", CS_CHANNEL, "#cs-risk", 0,
     "Globex usage fell 40% after their reorg — has anyone talked to them this month?"),
    ("Email the economic buyer", "email", "lee@globex.com", "Lee Park (CFO)", 86400,
     "Subject: Checking in\n\nHi Lee, could we find 20 minutes this week?"),
    ("Call the champion", "call", "dana@globex.com", "Dana Ruiz (champion)", 86400,
     "Talking points: the reorg, who owns the rollout now, renewal timing."),
    ("Bring in the AE", "slack", "U0LI", "Li Wei", 3600,
     "Li, Globex is at risk; can you join Thursday's call?"),
]


def _new_case(world: World) -> int:
    with world.session() as s:
        account = Account(team_id=world.team_id, name="Globex", domain="globex.com",
                          csm_user_id="U0MAYA", ae_user_id="U0LI", arr=90_000)
        playbook = Playbook(team_id=world.team_id, key="demo_usage_drop", name="Usage drop",
                            summary="Usage fell sharply")
        s.add(account)
        s.add(playbook)
        s.flush()
        case = Case(team_id=world.team_id, account_id=account.id or 0, risk_key="usage_drop",
                    playbook_id=playbook.id or 0, reporter_user_id="U0MAYA",
                    owner_user_id="U0MAYA", status=CaseStatus.PLANNED, total_steps=len(STEPS),
                    opened_at=MONDAY - dt.timedelta(hours=6),
                    context="Weekly active users fell 40% after their reorg.")
        s.add(case)
        s.flush()
        for pos, (summary, medium, ref, label, delay, draft) in enumerate(STEPS, start=1):
            s.add(CaseStep(team_id=world.team_id, case_id=case.id or 0, position=pos,
                           summary=summary, medium=medium, assignee_role="csm",
                           assignee_user_id="U0MAYA", recipient_ref=ref, recipient_label=label,
                           delay_seconds=delay, draft=draft))
        return case.id or 0


def _dm(world: World, user: str, starts: str) -> dict[str, Any]:
    return [m for m in world.standin.messages(user) if m["text"].startswith(starts)][-1]


def _by_ts(world: World, ts: str) -> dict[str, Any]:
    return next(m for m in world.standin.messages("U0MAYA") if m["ts"] == ts)


def _question(world: World, count: int) -> dict[str, Any]:
    world.standin.wait_for("chat.postMessage", count,
                           predicate=lambda c: "resolved?" in str(c.args.get("text")))
    return _dm(world, "U0MAYA", "Is the risk at Globex resolved?")


def _answer(world: World, action: str, question: dict[str, Any], count: int) -> None:
    world.driver.block_action(action, user_id="U0MAYA", message=question)
    world.standin.wait_for("response_url", count, predicate=lambda c: "resolved" in
                           str(c.args.get("text")))


def _tick(world: World, at: dt.datetime, label: str) -> None:
    done = world.tick(at)
    steps, followups = done.get("cases.steps_due", 0), done.get("cases.followups", 0)
    world.say(f"\n$ followthrough tick --now {at.isoformat()}   # {label}: "
              f"{steps} step DM(s), {followups} reminder/escalation(s)")


def story(world: World) -> None:
    world.say("\n== 4. The plan runs: step after step until the risk is resolved ==")
    case_id = _new_case(world)
    with world.session() as s:
        start_case(s, world.team_id, case_id, "U0MAYA", MONDAY - dt.timedelta(hours=6),
                   settings=world.settings)
    world.say(f"Maya starts case #{case_id} (Globex, usage drop) at 3 a.m. on Monday.")
    _tick(world, MONDAY - dt.timedelta(hours=5), "Monday 04:00 New York")
    world.say("  Nobody is DMed at 4 a.m.: the step waits for Maya's working day.")
    _tick(world, MONDAY, "Monday 09:00")
    world.show("Maya's DM", _dm(world, "U0MAYA", "Step 1"))

    _tick(world, MONDAY + dt.timedelta(days=2, hours=7), "Wednesday 16:00, 24 working hours")
    world.show("Maya's DM (reminder)", _dm(world, "U0MAYA", "Reminder: Step 1"))
    _tick(world, MONDAY + dt.timedelta(days=7, hours=5), "next Monday, 48 working hours")
    world.show("Omar's DM (Maya's manager)", _dm(world, "U0OMAR", "Step 1"))

    world.say("\nMaya clicks Yes:")
    reminder = _dm(world, "U0MAYA", "Reminder")
    world.driver.block_action(YES, user_id="U0MAYA", message=reminder)
    question = _question(world, 1)
    world.show("#cs-risk", world.standin.messages(CS_CHANNEL)[-1])
    world.show("Maya's DM, updated in place", _by_ts(world, reminder["ts"]))
    world.show("Maya's DM", question)
    world.say("Maya answers Not yet; step 2 follows after its one-day delay.")
    _answer(world, ANSWER_NOT_YET, question, 1)

    _tick(world, MONDAY + dt.timedelta(days=9, hours=1), "Wednesday")
    email = _dm(world, "U0MAYA", "Step 2")
    world.say("Maya clicks Edit, rewrites the email and submits:")
    world.driver.block_action(EDIT, user_id="U0MAYA", message=email)
    world.standin.wait_for("views.open")
    world.driver.view_submission(world.standin.open_views("U0MAYA")[-1], {
        "draft": "Subject: 20 minutes on Thursday?\n\nHi Lee — could we talk through the "
                 "rollout on Thursday?"})
    question = _question(world, 2)
    world.show("Maya's DM, updated: the text to copy and a mailto: link",
               _by_ts(world, email["ts"]))
    _answer(world, ANSWER_NOT_YET, question, 2)

    _tick(world, MONDAY + dt.timedelta(days=10, hours=1), "Thursday")
    world.say("Step 3 is a call; Dana is on leave, so Maya clicks No and gives the reason.")
    call = _dm(world, "U0MAYA", "Step 3")
    world.driver.block_action(NO, user_id="U0MAYA", message=call)
    world.standin.wait_for("views.open", 2)
    world.driver.view_submission(world.standin.open_views("U0MAYA")[-1],
                                 {"reason": "Dana is on leave until the 20th"})
    question = _question(world, 3)
    world.show("Maya's DM, updated", _by_ts(world, call["ts"])["blocks"][-1:])
    world.say("Lee answered the email and the renewal is back on track: Resolved — saved.")
    _answer(world, ANSWER_SAVED, question, 3)
    card = world.driver.command("/case", str(case_id), user_id="U0MAYA")
    world.show(f"/case {case_id}", (card.json or {}).get("blocks") or [])
