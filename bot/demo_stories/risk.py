"""A risk reported: /report-risk Acme → modal → a case-specific plan posted to #cs-risk,
a second reporter shown the open case, a plan edit, and the same service from the CLI."""

from __future__ import annotations

import threading

from bot.cases.cli import plan_lines
from bot.cases.planning import ReportRequest, report_risk
from bot.devtools.world import World


def _settle(world: World) -> None:
    """Wait until the app's background jobs queued so far are done (drafting, posting)."""
    pool = world.rt.background
    barrier = threading.Barrier(pool._max_workers + 1)
    for _ in range(pool._max_workers):
        pool.submit(barrier.wait, 30)
    barrier.wait(30)


def _after(world: World, method: str, fn) -> None:  # type: ignore[no-untyped-def]
    before = len(world.standin.calls(method))
    fn()
    world.standin.wait_for(method, before + 1, timeout=20)


def story(world: World) -> None:
    world.say("\n== A risk reported: from /report-risk to a plan for this account ==")
    acme = world.seed_account("Acme Corp", "acme.com", contacts=[
        {"name": "Dana Ruiz", "email": "dana@acme.com", "title": "VP Operations",
         "role": "champion"},
        {"name": "Lee Park", "email": "lee@acme.com", "title": "CFO", "role": "economic_buyer"},
        {"name": "Kim Ito", "email": "kim@acme.com", "title": "IT admin", "role": "admin"},
    ])

    world.say("\nSam types `/report-risk Acmee` (a typo):")
    _after(world, "response_url",
           lambda: world.driver.command("/report-risk", "Acmee", user_id="U0SAM"))
    world.show("Sam (only visible to you)", world.standin.ephemerals(user="U0SAM")[-1])
    world.standin.close_view(world.team_id, "U0SAM", world.standin.open_views("U0SAM")[-1]["id"],
                             False)

    world.say("\nMaya types `/report-risk Acme Corp`; the modal opens with Acme filled in:")
    _after(world, "views.open",
           lambda: world.driver.command("/report-risk", "Acme Corp", user_id="U0MAYA"))
    view = world.standin.open_views("U0MAYA")[-1]
    world.show("Maya's modal", view["blocks"])
    world.say("She picks “Champion or point of contact left” and writes what happened:")
    world.driver.view_submission(view, {
        "account": str(acme.id), "risk": "champion_left",
        "context": "Dana Ruiz (our champion) told me on Friday she is leaving Acme at the end "
                   "of the month. Her replacement is not named yet; renewal talks start soon.",
    }, user_id="U0MAYA")
    _settle(world)
    card = world.standin.last_message("C0CSRISK")
    world.show("#cs-risk", card)

    world.say("\nTen minutes later Sam reports the same risk; he is shown the open case:")
    _after(world, "views.open",
           lambda: world.driver.command("/report-risk", "acme", user_id="U0SAM"))
    world.driver.view_submission(world.standin.open_views("U0SAM")[-1], {
        "account": str(acme.id), "risk": "champion_left", "context": "Heard Dana resigned.",
    }, user_id="U0SAM")
    _settle(world)
    dm = world.standin.messages("U0SAM")[-1]
    world.say(f"  Sam's DM: {dm['text']}")

    world.say("\nMaya changes the plan before it starts: step 3 goes to Omar (CS manager):")
    case_id = card["blocks"][-2]["elements"][0]["value"].split(":")[0]
    _after(world, "views.open", lambda: world.driver.block_action(
        "case_step_menu", f"{case_id}:3:reassign", user_id="U0MAYA", message=card,
        block_id="case_step_3"))
    world.driver.view_submission(world.standin.open_views("U0MAYA")[-1], {"value": "U0OMAR"},
                                 user_id="U0MAYA")
    _settle(world)
    updated = world.standin.last_message("C0CSRISK")
    step3 = next(b for b in updated["blocks"] if b.get("block_id") == "case_step_3")
    world.show("#cs-risk (card updated, step 3)", [step3])

    world.say("\nThe same service from a script: "
              "`followthrough report-risk --account acme --risk budget_cut --context …`")
    result = report_risk(world.rt.engine, ReportRequest(
        world.team_id, "budget_cut", "CFO announced a 20% cut to software spend.", "U0LI",
        account_name="acme"))
    with world.session() as session:
        lines = plan_lines(session, result)
    world.say("\n".join("    " + line for line in lines[:14]) + "\n    …")
