"""`/case list`, `/case 42` and the case card's controls (pause, resume, skip ahead, note,
reassign, resolve, churn, extend with another playbook). Thin: parse, call bot.cases.control
(or extend for an extension), render the card again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.cases import blocks as msgs
from bot.cases import control, decisions
from bot.cases import extend as planning
from bot.cases.drafting import drafter_for
from bot.cases.records import CaseError
from bot.runtime import Runtime
from bot.slack.listeners.base import Call, Routes
from bot.slack.listeners.steps import block_ref
from bot.slack.outbound import SlackNotifier
from bot.slack.payload import BadInput, parse_id, parse_ref, parse_user
from bot.states import StateError

routes = Routes(CaseError, StateError)
USAGE = "Use `/case list` for open cases or `/case 42` for one case."
CONTROLS = {
    msgs.CASE_PAUSE: "pause",
    msgs.CASE_RESUME: "resume",
    msgs.CASE_SKIP: "skip",
    msgs.CASE_RESOLVE: "saved",
    msgs.CASE_CHURN: "churned",
}


def _show(respond: Callable[..., Any] | None, c: msgs.CaseCard) -> None:
    """Replace the card the click came from with the case as it is now."""
    if respond is not None:
        respond(
            text=f"Case #{c.case_id}: {c.account}", blocks=msgs.case_card(c), replace_original=True
        )


@routes.command("/case")
def on_case_command(call: Call) -> None:
    words = call.interaction.text.split()
    arg = words[0].lstrip("#") if words else "list"
    if arg.lower() == "list":
        blocks = msgs.case_list(control.case_list(call.rt.engine, call.team_id))
        call.ack(text="Open cases", blocks=blocks)
        return
    c = control.case_card(call.rt.engine, call.team_id, parse_id(arg, USAGE))
    call.ack(text=f"Case #{c.case_id}: {c.account}", blocks=msgs.case_card(c))


@routes.action(msgs.CASE_PAUSE)
@routes.action(msgs.CASE_RESUME)
@routes.action(msgs.CASE_SKIP)
@routes.action(msgs.CASE_RESOLVE)
@routes.action(msgs.CASE_CHURN)
def on_control(call: Call) -> None:
    case_id, expected = decisions.parse_value(call.interaction.value)
    outbox, card = control.control_case(
        call.rt.engine,
        CONTROLS[call.interaction.action_id],
        call.team_id,
        case_id,
        call.user_id,
        call.rt.settings,
        expected or None,
    )
    outbox.flush(call.rt, call.notifier)
    _show(call.respond, card)


@routes.action(msgs.CASE_REASSIGN)
def on_reassign_current(call: Call) -> None:
    case_id, expected = block_ref(call.interaction.block_id)
    action = call.interaction.action
    outbox = control.reassign(
        call.rt.engine,
        call.team_id,
        parse_user(action.selected_user if action else None),
        call.user_id,
        call.rt.settings,
        case_id=case_id,
        expected=expected or None,
    )
    outbox.flush(call.rt, call.notifier)
    _show(call.respond, control.case_card(call.rt.engine, call.team_id, case_id))


@routes.action(msgs.CASE_EXTEND)
def on_extend_chosen(call: Call) -> None:
    """Check at once (a refusal answers now); draft the new steps in the background."""
    action = call.interaction.action
    stale = "That choice is not recognised any more, so nothing changed; pick again."
    case_id, key = parse_ref(action.selected_option if action else None, stale)
    if not key:
        raise BadInput(stale)
    planning.may_extend(call.rt.engine, call.team_id, case_id, key, call.user_id, call.rt.settings)
    call.rt.submit(
        extend_case, call.rt, call.notifier, call.respond, call.team_id, case_id, key, call.user_id
    )


@routes.action(msgs.CASE_NOTE)
def on_note_clicked(call: Call) -> None:
    case_id, _ = decisions.parse_value(call.interaction.value)
    call.open_view(
        control.note_form(call.rt.engine, call.team_id, case_id, call.user_id, call.rt.settings)
    )


@routes.view(msgs.NOTE_VIEW, error_block="note")
def on_note_submitted(call: Call) -> None:
    view = call.view
    case_id = parse_id(
        view.private_metadata,
        "This form is out of date, so nothing was saved; open the case again.",
    )
    outbox = control.note(
        call.rt.engine, call.team_id, case_id, call.user_id, call.rt.settings, view.text("note")
    )
    call.ack()
    outbox.flush(call.rt, call.notifier)


def extend_case(
    rt: Runtime,
    notifier: SlackNotifier,
    respond: Callable[..., Any] | None,
    team_id: str,
    case_id: int,
    key: str,
    actor: str,
) -> None:
    """Background (drafting may call an LLM): add the playbook's steps, then say so in place
    of the close-or-extend question; the case card follows through the Outbox."""
    try:
        ext = planning.extend_case(
            rt.engine,
            team_id,
            case_id,
            key,
            actor,
            drafter=drafter_for(rt.settings),
            settings=rt.settings,
        )
    except CaseError as exc:
        if respond is not None:
            respond(text=str(exc), response_type="ephemeral", replace_original=False)
        return
    ext.outbox.flush(rt, notifier)
    first, last = ext.steps[0].position, ext.steps[-1].position
    text, blocks = msgs.extended(
        case_id, ext.account, ext.playbook.name, actor, first, last, ext.first_due
    )
    if respond is not None:
        respond(text=text, blocks=blocks, replace_original=True)
