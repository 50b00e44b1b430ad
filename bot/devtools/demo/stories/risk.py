"""A risk reported: /report-risk Acme → modal → a case-specific plan posted to #cs-risk,
a second reporter shown the open case, a plan edit, and the same service from the CLI.

Leaves the case in `world.state["case_id"]`: the engine story runs it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot import clock
from bot.cases.cli import plan_lines
from bot.cases.report import ReportRequest, report_risk
from bot.devtools.standin import render_blocks
from bot.devtools.world import TEAM, World
from bot.models import Account

# Friday 6 November 2026, 10:00 in New York: the demo's story time from here on
REPORTED_AT = dt.datetime(2026, 11, 6, 15, 0, tzinfo=dt.UTC)
NEW_YORK = ZoneInfo("America/New_York")
_NAMES = {m.user_id: m.real_name.split()[0] for m in TEAM}
_DATE = re.compile(r"<!date\^(\d+)\^[^|>]*\|[^>]*>")
_USER = re.compile(r"<@(\w+)>")


def humane(world: World, text: str) -> str:
    """Slack markup as a person sees it: names instead of <@U…>, dates in New York time."""
    text = _USER.sub(lambda m: "@" + _NAMES.get(m.group(1), m.group(1)), text)

    def date(m: re.Match[str]) -> str:
        at = dt.datetime.fromtimestamp(int(m.group(1)), dt.UTC).astimezone(NEW_YORK)
        return at.strftime("%a %d %b %H:%M")

    text = _DATE.sub(date, text)
    channels = world.standin.state.channels
    return re.sub(
        r"<#(\w+)(\|[^>]*)?>",
        lambda m: "#" + str(getattr(channels.get(m.group(1)), "name", m.group(1))),
        text,
    )


def show(
    world: World,
    who: str,
    blocks: list[dict[str, Any]],
    *,
    keep: int | None = None,
    max_lines: int | None = None,
) -> None:
    """Print blocks as read in Slack, optionally only the first `keep` blocks or lines."""
    shown = blocks if keep is None else blocks[:keep]
    lines = humane(world, render_blocks(shown)).splitlines()
    if max_lines is not None and len(lines) > max_lines:
        lines = [*lines[:max_lines], "…"]
    elif keep is not None and len(blocks) > keep:
        lines.append("…")
    world.show(who, "\n".join(lines))


def plan_card_brief(blocks: list[dict[str, Any]], steps: int = 2) -> list[dict[str, Any]]:
    """The plan card with only its first `steps` steps (each clipped), for a short print."""
    out: list[dict[str, Any]] = []
    skipped = 0
    for block in blocks:
        step = str(block.get("block_id", "")).startswith("case_step_")
        if step and int(block["block_id"].rsplit("_", 1)[1]) > steps:
            skipped += 1
            continue
        if step:
            text = block["text"]["text"].split("\n")
            block = {
                **block,
                "text": {
                    **block["text"],
                    "text": "\n".join(text[:5] + (["> …"] if len(text) > 5 else [])),
                },
            }
        out.append(block)
        if skipped == 0 and step and int(block["block_id"].rsplit("_", 1)[1]) == steps:
            out.append(
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": "(… more steps, each with who, to whom, when, via "
                            "what and the drafted message)",
                        }
                    ],
                }
            )
    return out


def settle(world: World) -> None:
    """Wait until the app's background jobs queued so far are done (drafting, posting)."""
    pool = world.rt.background
    barrier = threading.Barrier(pool._max_workers + 1)
    for _ in range(pool._max_workers):
        pool.submit(barrier.wait, 30)
    barrier.wait(30)


def acme(world: World) -> Account:
    """Acme as the foundation story imported it, or seeded when this story runs alone."""
    with world.session() as s:
        found = s.exec(
            select(Account).where(Account.team_id == world.team_id, Account.domain == "acme.com")
        ).first()
    if found is not None and found.csm_user_id:
        return found
    return world.seed_account(
        "Acme Corp",
        "acme.com",
        renewal_date=dt.date(2027, 1, 31),
        contacts=[
            {
                "name": "Dana Ruiz",
                "email": "dana@acme.com",
                "title": "VP Operations",
                "role": "champion",
            },
            {"name": "Lee Park", "email": "lee@acme.com", "title": "CFO", "role": "economic_buyer"},
            {"name": "Kim Ito", "email": "kim@acme.com", "title": "IT admin", "role": "admin"},
        ],
    )


def story(world: World) -> None:
    world.say("\n== A risk reported: from /report-risk to a plan for this account ==")
    clock.set_now(REPORTED_AT)
    account = acme(world)
    world.say("Friday 6 November, 10:00 in New York.")

    world.say("\nSam types `/report-risk Acmee` (a typo):")
    typo = world.driver.command("/report-risk", "Acmee", user_id="U0SAM")
    assert "couldn't find" in world.standin.answer(typo)  # the ack, or a late reply
    world.show("Sam (only visible to you)", world.standin.ephemerals(user="U0SAM")[-1])
    world.standin.close_view(world.team_id, "U0SAM", world.standin.wait_view(typo)["id"], False)

    world.say("\nMaya types `/report-risk Acme Corp`; the modal opens with Acme filled in:")
    view = world.standin.wait_view(
        world.driver.command("/report-risk", "Acme Corp", user_id="U0MAYA")
    )
    world.show("Maya's modal", view["blocks"])
    world.say("She picks “Champion or point of contact left” and writes what happened:")
    world.driver.view_submission(
        view,
        {
            "account": str(account.id),
            "risk": "champion_left",
            "context": "Dana Ruiz (our champion) told me on Friday she is leaving Acme at the end "
            "of the month. Her replacement is not named yet; renewal talks start soon.",
        },
        user_id="U0MAYA",
    )
    settle(world)
    card = world.standin.last_message("C0CSRISK") or {}
    show(world, "#cs-risk (the case card; also DMed to Maya)", plan_card_brief(card["blocks"]))
    case_id = int(card["blocks"][-2]["elements"][0]["value"].split(":")[0])
    world.state["case_id"] = case_id

    world.say("\nTen minutes later Sam reports the same risk; he is shown the open case:")
    world.driver.view_submission(
        world.standin.wait_view(world.driver.command("/report-risk", "acme", user_id="U0SAM")),
        {
            "account": str(account.id),
            "risk": "champion_left",
            "context": "Heard Dana resigned.",
        },
        user_id="U0SAM",
    )
    settle(world)
    dm = world.standin.messages("U0SAM")[-1]
    world.say(f"  Sam's DM: {humane(world, dm['text'])}")

    world.say("\nMaya changes the plan before it starts: step 3 goes to Omar (CS manager):")
    picked = world.driver.block_action(
        "case_step_menu",
        f"{case_id}:3:reassign",
        user_id="U0MAYA",
        message=card,
        block_id="case_step_3",
    )
    world.driver.view_submission(
        world.standin.wait_view(picked), {"value": "U0OMAR"}, user_id="U0MAYA"
    )
    settle(world)
    updated = world.standin.last_message("C0CSRISK") or {}
    step3 = next(b for b in updated["blocks"] if b.get("block_id") == "case_step_3")
    show(world, "#cs-risk (card updated, step 3)", [step3], max_lines=2)

    world.say(
        "\nThe same service from a script: "
        "`followthrough report-risk --account acme --risk budget_cut --context …`"
    )
    result = report_risk(
        world.rt.engine,
        ReportRequest(
            world.team_id,
            "budget_cut",
            "CFO announced a 20% cut to software spend.",
            "U0LI",
            account_name="acme",
        ),
    )
    with world.session() as session:
        lines = plan_lines(session, result)
    shown = "\n".join(lines).splitlines()[:12]
    world.say("\n".join("    " + line for line in shown) + "\n    …")
