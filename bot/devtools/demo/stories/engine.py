"""The plan runs: the case the risk story reported is started from its card, then `tick --now`
moves time through a fortnight; people answer Yes / Not yet / Edit / No, a reminder and an
escalation happen on the way, and the case closes as "Resolved — saved"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from bot import clock
from bot.cases import card_sync, plan_edits
from bot.cases.blocks import ANSWER_NOT_YET, ANSWER_SAVED, EDIT, NO, YES
from bot.cases.decisions import days, time_to_resolve
from bot.cases.report import ReportRequest, open_case, report_risk
from bot.devtools.demo.stories.risk import NEW_YORK, REPORTED_AT, acme, humane, show
from bot.devtools.world import CS_CHANNEL, World
from bot.models import Case, CaseStep
from bot.outbox.scheduled import kick


def _utc(day: int, hour: int, minute: int = 0, offset: int = 5) -> dt.datetime:
    """November 2026, local time at a UTC offset (New York −5, Los Angeles −8)."""
    return dt.datetime(2026, 11, day, hour + offset, minute, tzinfo=dt.UTC)


def _la(day: int, hour: int) -> dt.datetime:
    return _utc(day, hour, offset=8)


def _case_id(world: World) -> int:
    """The case the risk story reported; reported here (quietly) when this story runs alone."""
    if world.state.get("case_id"):
        return int(world.state["case_id"])
    clock.set_now(REPORTED_AT)
    account = acme(world)
    with world.session() as s:
        found = open_case(s, world.team_id, account.id or 0, "champion_left")
    if found is not None:
        return found.id or 0
    result = report_risk(
        world.rt.engine,
        ReportRequest(
            world.team_id,
            "champion_left",
            "Dana Ruiz (our champion) is leaving Acme at the end "
            "of the month; her replacement is not named yet.",
            "U0MAYA",
            account_id=account.id,
        ),
    )
    case_id = result.case.id or 0
    plan_edits.apply_edit(
        world.rt.engine, world.team_id, case_id, 3, "reassign", "U0OMAR", "U0MAYA", []
    )  # as Maya did in the risk story
    with world.session() as s:
        card_sync.announce(s, result.case, world.settings.cs_channel)
    kick(world.rt, world.notifier, world.team_id)
    return case_id


def _case(world: World, case_id: int) -> Case:
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def _card(world: World, case_id: int) -> dict[str, Any]:
    ts = _case(world, case_id).card_ts
    return next(m for m in world.standin.messages(CS_CHANNEL) if m["ts"] == ts)


def _wait(
    world: World, method: str, act: Callable[[], Any], has: Callable[[Any], bool] = lambda c: True
) -> Any:
    """Do `act` (a signed click) and wait for the app's next matching Slack call."""
    before = len([c for c in world.standin.calls(method) if has(c)])
    act()
    return world.standin.wait_for(method, before + 1, timeout=20, predicate=has)[-1]


def _dm(world: World, user: str, starts: str) -> dict[str, Any]:
    return [m for m in world.standin.messages(user) if m["text"].startswith(starts)][-1]


def _by_ts(world: World, user: str, ts: str) -> dict[str, Any]:
    return next(m for m in world.standin.messages(user) if m["ts"] == ts)


def _tick(world: World, at: dt.datetime, label: str) -> None:
    done = world.tick(at)
    steps, followups = done.get("cases.steps_due", 0), done.get("cases.followups", 0)
    world.say(
        f"\n$ followthrough tick --now {at.isoformat()}   # {label}: "
        f"{steps} step DM(s), {followups} reminder/escalation(s)"
    )


def _decide(
    world: World, user: str, action: str, dm: dict[str, Any], values: dict[str, str] | None = None
) -> dict[str, Any]:
    """Yes, or Edit / No through their modal; returns the "Is the risk resolved?" DM."""

    def asked(c: Any) -> bool:
        return "resolved?" in str(c.args.get("text")) and c.args.get("channel") in {
            user,
            world.standin.dm_channel(user),
        }

    if values is None:
        world.driver.block_action(action, user_id=user, message=dm)
    else:
        _wait(
            world, "views.open", lambda: world.driver.block_action(action, user_id=user, message=dm)
        )
        world.driver.view_submission(world.standin.open_views(user)[-1], values, user_id=user)
    world.standin.wait_message(  # the step's DM now says what was decided …
        user, lambda m: m["ts"] == dm["ts"] and "Yes, No or Edit?" not in m["text"]
    )
    return world.standin.wait_message(  # … and the question follows it
        user, lambda m: m["text"].startswith("Is the risk") and float(m["ts"]) > float(dm["ts"])
    )


def _answer(world: World, user: str, action: str, question: dict[str, Any]) -> str:
    """Click an answer to "Is the risk resolved?"; returns what the app says happens next."""
    call = _wait(
        world,
        "response_url",
        lambda: world.driver.block_action(action, user_id=user, message=question),
        lambda c: "resolved?" in str(c.args),
    )
    said = [str(e["text"]) for b in call.args.get("blocks", [])[2:] for e in b.get("elements", [])]
    return humane(world, " ".join(said))


def story(world: World) -> None:
    world.say("\n== The plan runs: step after step until the risk is resolved ==")
    case_id = _case_id(world)

    clock.set_now(_utc(6, 18, 30))
    world.say(f"\nFriday 18:30 in New York: Maya clicks “Start plan” on case #{case_id}'s card.")
    _wait(
        world,
        "chat.update",
        lambda: world.driver.block_action(
            "case_start", user_id="U0MAYA", message=_card(world, case_id)
        ),
        lambda c: c.args.get("channel") == CS_CHANNEL,
    )
    show(world, "#cs-risk (the card now follows the case)", _card(world, case_id)["blocks"])

    _tick(world, _utc(7, 11), "Saturday 11:00")
    world.say("  Nobody is DMed in the evening or at the weekend: step 1 waits for Monday.")
    _tick(world, _utc(9, 9), "Monday 09:00 New York")
    step1 = _dm(world, "U0MAYA", "Step 1")
    show(world, "Maya's DM", step1["blocks"], max_lines=14)

    world.say(
        "\nMaya sends the email herself and clicks “Yes, done”; the DM keeps the text "
        "to copy and a mailto: link. Asked whether the risk is resolved, she says "
        "Not yet:"
    )
    question = _decide(world, "U0MAYA", YES, step1)
    world.say(
        f"  ┌ Maya's DM, updated in place\n    │ "
        f"{humane(world, _by_ts(world, 'U0MAYA', step1['ts'])['text'])}"
    )
    world.say(f"  Maya: Not yet → {_answer(world, 'U0MAYA', ANSWER_NOT_YET, question)}")

    _tick(world, _la(9, 10), "Monday 10:00 Los Angeles (step 2: 4 h later)")
    world.say("  Li (AE) gets step 2 — and does not answer.")
    _tick(world, _la(12, 9), "Thursday 09:00 LA, 24 working hours later")
    show(world, "Li's DM", _dm(world, "U0LI", "Reminder: Step 2")["blocks"], keep=2)
    _tick(world, _la(17, 9), "next Tuesday, 48 working hours")
    show(
        world,
        "Omar's DM (Maya's manager; Maya gets it too)",
        _dm(world, "U0OMAR", "Step 2")["blocks"],
        keep=2,
    )

    world.say("\nLi clicks Edit, rewrites the meeting notes and saves; then Not yet:")
    reminder = _dm(world, "U0LI", "Reminder: Step 2")
    question = _decide(
        world,
        "U0LI",
        EDIT,
        reminder,
        {
            "draft": "Org-chart session with Maya, Thursday 14:00. Bring: Acme's LinkedIn page, "
            "the CRM contact list, last QBR deck. Goal: who signs the renewal now?"
        },
    )
    world.say(f"  Li's DM: {humane(world, _by_ts(world, 'U0LI', reminder['ts'])['text'])}")
    world.say(f"  Li: Not yet → {_answer(world, 'U0LI', ANSWER_NOT_YET, question)}")

    _tick(world, _utc(18, 14), "Wednesday 14:00 New York")
    world.say(
        "Step 3 (reassigned to Omar in the plan) is the exec email to Lee, the CFO. "
        "Omar clicks No and says why:"
    )
    question = _decide(
        world,
        "U0OMAR",
        NO,
        _dm(world, "U0OMAR", "Step 3"),
        {"reason": "Lee is travelling until the 30th; I'll call him then."},
    )
    world.say(f"  Omar's DM: {humane(world, _dm(world, 'U0OMAR', 'Step 3')['text'])}")
    world.say(f"  Omar: Not yet → {_answer(world, 'U0OMAR', ANSWER_NOT_YET, question)}")

    _tick(world, _utc(20, 14), "Friday 14:00")
    world.say(
        "Maya holds the intro call with Priya, who now owns the rollout, and clicks "
        "“Yes, done”. The renewal is back on track:"
    )
    question = _decide(world, "U0MAYA", YES, _dm(world, "U0MAYA", "Step 4"))
    world.say(f"  Maya: Resolved — saved → {_answer(world, 'U0MAYA', ANSWER_SAVED, question)}")
    show(world, "#cs-risk (the case card, closed)", _card(world, case_id)["blocks"])

    case = _case(world, case_id)
    with world.session() as s:
        ran = s.exec(select(CaseStep).where(CaseStep.case_id == case_id)).all()
    took = time_to_resolve(case)
    counts = {k: sum(x.status == k for x in ran) for k in ("done", "skipped", "cancelled")}
    opened, resolved = (
        clock.as_utc(t).astimezone(NEW_YORK).strftime("%a %d %b %H:%M")
        for t in (case.opened_at, case.resolved_at or case.opened_at)
    )
    world.say(
        f"\nThe case record (case #{case_id}):\n"
        f"  outcome: {case.outcome} · resolved at step {case.resolution_step} of "
        f"{case.total_steps} ({counts['done']} done, {counts['skipped']} skipped, "
        f"{counts['cancelled']} not needed)\n"
        f"  time to resolve: {days(took) if took else '—'} (reported {opened} → "
        f"resolved {resolved}, New York time)\n"
        f"  notes: {humane(world, case.notes) if case.notes else '—'}"
    )
