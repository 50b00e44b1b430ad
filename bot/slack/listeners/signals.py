"""Suggested-case DMs: Start plan / Not now / Dismiss (with a reason, in a modal).

Thin: parse the button's `id:expected-state`, call one of `bot.signals.decisions`, answer.
Refusals (not the CSM, case owner or a CS admin) and stale clicks are `SignalError`s, told
privately by the routes; the DM itself is edited through the outbox (`kick` sends it now).
"""

from __future__ import annotations

from bot.outbox.scheduled import kick
from bot.signals import blocks, decisions, flows
from bot.signals.models import SignalError
from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput

routes = Routes(SignalError)
OLDER = "That button is out of date, so nothing changed; open the latest message."


def _suggestion_id(value: str | None) -> int:
    head = (value or "").split(":", 1)[0]
    if not head.isdigit():
        raise BadInput(OLDER)
    return int(head)


@routes.action(blocks.START)
def on_start(call: Call) -> None:
    sid = _suggestion_id(call.interaction.value)
    start = decisions.begin_start(call.rt.engine, call.rt.settings, call.team_id, sid, call.user_id)
    kick(call.rt, call.notifier, call.team_id)
    call.rt.submit(flows.start_plan, call.rt, call.notifier, start, call.user_id)


@routes.action(blocks.SNOOZE)
def on_snooze(call: Call) -> None:
    sid = _suggestion_id(call.interaction.value)
    until = decisions.snooze(call.rt.engine, call.rt.settings, call.team_id, sid, call.user_id)
    kick(call.rt, call.notifier, call.team_id)
    call.tell(f"Put aside; I'll bring it back on {until:%b %d}. New signals still add to it.")


@routes.action(blocks.DISMISS)
def on_dismiss(call: Call) -> None:
    sid = _suggestion_id(call.interaction.value)
    view = decisions.check(call.rt.engine, call.team_id, sid, call.user_id, call.rt.settings)
    call.open_view(blocks.dismiss_modal(view))


@routes.view(blocks.DISMISS_VIEW, error_block=blocks.REASON_BLOCK)
def on_dismiss_submit(call: Call) -> None:
    sid = _suggestion_id(call.view.private_metadata)
    reason = call.view.text(blocks.REASON_BLOCK, 1000)
    if not reason:
        raise BadInput(
            "Say in a few words why (it tells the team which signals are noise).",
            block_id=blocks.REASON_BLOCK,
        )
    decisions.dismiss(call.rt.engine, call.rt.settings, call.team_id, sid, call.user_id, reason)
    call.ack()
    kick(call.rt, call.notifier, call.team_id)
