"""Step DMs: Yes / No / Edit, their modals, reassign, and "Is the risk resolved?".

Thin: parse, call one service in bot.cases, render. Refusals and stale clicks get an
ephemeral answer through the response_url; nothing is sent twice (the services guard it).
"""

from __future__ import annotations

from bot.cases import blocks as msgs
from bot.cases import control, decisions
from bot.cases.records import CaseError
from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput, clean_text, parse_id, parse_ref, parse_user
from bot.states import StateError

routes = Routes(CaseError, StateError)
ANSWERS = {
    msgs.ANSWER_SAVED: "saved",
    msgs.ANSWER_CHURNED: "churned",
    msgs.ANSWER_NOT_YET: "not_yet",
}
STALE_CONTROL = (
    "That control is not recognised any more, so nothing changed; use the latest message."
)


def block_ref(block_id: str) -> tuple[int, str]:
    """`reassign:<id>:<state>` (a select cannot carry a value, so its block id does)."""
    return parse_ref(block_id.partition(":")[2], STALE_CONTROL)


@routes.action(msgs.YES, durable=True)
def on_yes(call: Call) -> None:
    step_id, expected = decisions.parse_value(call.interaction.value)
    decisions.decide(
        call.rt, call.notifier, call.team_id, step_id, call.user_id, "yes", expected=expected
    )


@routes.action(msgs.EDIT)
@routes.action(msgs.NO)
def on_edit_or_no(call: Call) -> None:
    """Open the Edit (or skip-reason) modal, if the step may still be decided."""
    step_id, expected = decisions.parse_value(call.interaction.value)
    view = decisions.decidable(
        call.rt.engine, call.team_id, step_id, call.user_id, call.rt.settings, expected
    )
    build = msgs.edit_modal if call.interaction.action_id == msgs.EDIT else msgs.no_modal
    call.open_view(build(view))


def _submit(
    call: Call,
    action: str,
    *,
    text: str | None = None,
    recipient: str | None = None,
    reason: str | None = None,
) -> None:
    """Check the step again before closing the modal (errors show in it), then decide; a
    refusal after that (someone else was quicker) is told like any refusal."""
    step_id, expected = decisions.parse_value(call.view.private_metadata)
    decisions.decidable(
        call.rt.engine, call.team_id, step_id, call.user_id, call.rt.settings, expected
    )
    call.ack()
    decisions.decide(
        call.rt,
        call.notifier,
        call.team_id,
        step_id,
        call.user_id,
        action,
        expected=expected,
        text=text,
        recipient=recipient,
        reason=reason,
    )


@routes.view(msgs.EDIT_VIEW, error_block="draft")
def on_edit_submit(call: Call) -> None:
    view = call.view
    text = view.text("draft")
    if not text.strip():
        raise BadInput("The message cannot be empty.", block_id="draft")
    _submit(call, "edit", text=text, recipient=clean_text(view.value("recipient"), 300) or None)


@routes.view(msgs.NO_VIEW, error_block="reason")
def on_no_submit(call: Call) -> None:
    _submit(call, "no", reason=call.view.text("reason", 2000))


@routes.action(msgs.REASSIGN, durable=True)
def on_reassign(call: Call) -> None:
    step_id, expected = block_ref(call.interaction.block_id)
    action = call.interaction.action
    new_user = parse_user(action.selected_user if action else None)
    outbox = control.reassign(
        call.rt.engine,
        call.team_id,
        new_user,
        call.user_id,
        call.rt.settings,
        step_id=step_id,
        expected=expected or None,
    )
    outbox.flush(call.rt, call.notifier)
    call.tell(f"Step reassigned to <@{new_user}>; they get it in their working hours.")


@routes.action(msgs.ANSWER_SAVED, durable=True)
@routes.action(msgs.ANSWER_CHURNED, durable=True)
@routes.action(msgs.ANSWER_NOT_YET, durable=True)
def on_answer(call: Call) -> None:
    """Resolved — saved / Churned / Not yet: the question becomes its answer."""
    case_id, position = decisions.parse_value(call.interaction.value)
    text, blocks = decisions.answer(
        call.rt,
        call.notifier,
        call.team_id,
        case_id,
        parse_id(position, STALE_CONTROL),
        ANSWERS[call.interaction.action_id],
        call.user_id,
    )
    if call.respond is not None:
        call.respond(text=text, blocks=blocks, replace_original=True)
