"""Reassigning a step before the plan starts writes its draft again for the new assignee
(through signed requests); a hand-written draft is kept and the card warns."""

from __future__ import annotations

import threading
from typing import Any

from sqlmodel import col, select

from bot.cases.redraft import playbook_for
from bot.devtools.standin.blockkit import validate_message_blocks
from bot.models import AuditEvent, Case, CaseStep


def _drain(world) -> None:  # type: ignore[no-untyped-def]
    pool = world.rt.background
    barrier = threading.Barrier(pool._max_workers + 1)
    for _ in range(pool._max_workers):
        pool.submit(barrier.wait, 30)
    barrier.wait(30)


def _report(world) -> tuple[Case, dict]:  # type: ignore[no-untyped-def]
    account = world.seed_account("Acme Corp", "acme.com")
    opened = world.driver.command("/report-risk", "acme", user_id="U0MAYA")
    world.standin.wait_view(opened)
    [view] = world.standin.open_views("U0MAYA")
    world.driver.view_submission(
        view,
        {"account": str(account.id), "risk": "champion_left", "context": "Dana left Acme."},
        user_id="U0MAYA",
    )
    world.standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0CSRISK")
    _drain(world)
    with world.session() as s:
        [case] = list(s.exec(select(Case)))
    return case, world.standin.last_message("C0CSRISK")


def _modal(world, card: dict, case_id: int, position: int, op: str) -> dict:  # type: ignore[no-untyped-def]
    picked = world.driver.block_action(
        "case_step_menu",
        f"{case_id}:{position}:{op}",
        user_id="U0MAYA",
        message=card,
        block_id=f"case_step_{position}",
    )
    return world.standin.wait_view(picked)


def _reassign(world, card: dict, case_id: int, position: int, user: str) -> None:  # type: ignore[no-untyped-def]
    view = _modal(world, card, case_id, position, "reassign")
    resp = world.driver.view_submission(view, {"value": user}, user_id="U0MAYA")
    assert resp.status == 200 and not resp.json
    _drain(world)


def _step(world, position: int) -> CaseStep:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return s.exec(select(CaseStep).where(CaseStep.position == position)).one()


def _audit(world, step_id: int, action: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return [
            e.detail
            for e in s.exec(
                select(AuditEvent)
                .where(
                    AuditEvent.entity == "case_step",
                    AuditEvent.entity_id == step_id,
                    AuditEvent.action == action,
                )
                .order_by(col(AuditEvent.id))
            )
        ]


def _step_block(card: dict, position: int) -> str:
    return str(next(b for b in card["blocks"] if b.get("block_id") == f"case_step_{position}"))


def test_reassigned_step_is_drafted_again_for_the_new_assignee(slack) -> None:
    case, card = _report(slack)
    # step 3 (exec sponsor writes to the economic buyer) fell back to the reporter, Maya
    before = _step(slack, 3)
    assert before.assignee_user_id == "U0MAYA" and before.draft.rstrip().endswith("Maya Chen")

    _reassign(slack, card, case.id, 3, "U0OMAR")
    after = _step(slack, 3)
    assert after.assignee_user_id == "U0OMAR"
    assert after.draft.rstrip().endswith("regards,\nOmar Haddad")  # signed by the new one
    assert after.draft.count("Maya Chen") == before.draft.count("Maya Chen") - 1  # CSM stays
    [event] = _audit(slack, after.id, "redrafted")
    assert event["before"] == before.draft and event["after"] == after.draft  # both versions
    assert event["drafted_for_before"] == "U0MAYA" and event["drafted_for"] == "U0OMAR"
    updated = slack.standin.last_message("C0CSRISK")
    assert not validate_message_blocks(updated["blocks"])
    block = _step_block(updated, 3)
    assert "Omar Haddad" in block and "check the wording" not in block


def test_hand_edited_draft_is_kept_with_a_warning_on_the_card(slack) -> None:
    case, card = _report(slack)
    view = _modal(slack, card, case.id, 1, "draft")
    slack.driver.view_submission(
        view, {"value": "Hi Kim, who owns this now? — Maya"}, user_id="U0MAYA"
    )
    _drain(slack)
    assert "check the wording" not in _step_block(slack.standin.last_message("C0CSRISK"), 1)

    _reassign(slack, card, case.id, 1, "U0LI")
    step = _step(slack, 1)
    assert step.assignee_user_id == "U0LI"
    assert step.draft == "Hi Kim, who owns this now? — Maya"  # their words are kept
    assert _audit(slack, step.id, "draft_kept") and not _audit(slack, step.id, "redrafted")
    block = _step_block(slack.standin.last_message("C0CSRISK"), 1)
    assert "Draft written for <@U0MAYA>; check the wording." in block

    # given back to the person it was written for: nothing to check any more
    _reassign(slack, card, case.id, 1, "U0MAYA")
    assert "check the wording" not in _step_block(slack.standin.last_message("C0CSRISK"), 1)
    assert _step(slack, 1).draft == "Hi Kim, who owns this now? — Maya"


def test_extension_steps_are_drafted_from_the_extension_playbook() -> None:
    case = Case(
        team_id="T",
        account_id=1,
        risk_key="champion_left",
        playbook_id=7,
        gathered={"extensions": [{"key": "budget_cut", "playbook_id": 9, "from_position": 6}]},
    )
    assert [playbook_for(case, p) for p in (1, 5, 6, 9)] == [7, 7, 9, 9]
