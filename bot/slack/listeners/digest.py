"""Item controls (Done · Snooze · Reassign) in the digest, reminders, App Home and the
`/commitments` list; the digest settings modal; the close-the-loop buttons; the CSM's
"report risk: missed commitment".

Thin: parse, call one service, render. A refused click (stale, not allowed, past date) gets
a polite ephemeral answer next to the message, or a small modal on the Home tab. A click
on the `/commitments` list (an ephemeral, which only its response_url can change) replaces
the list with its new state and says what happened.
"""

from __future__ import annotations

import importlib
import json
import logging

from bot import clock
from bot.capture import listing
from bot.commitments import service as cm
from bot.digest import service as digest
from bot.digest.blocks import (
    A_REASSIGN,
    ITEM_ACTIONS,
    SETTINGS_CALLBACK,
    list_of,
    parse_ref,
    replace_item,
)
from bot.followup import service as followup
from bot.followup.blocks import (
    A_CLOSE_COPY,
    A_CLOSE_NO,
    A_CLOSE_SEND,
    A_REPORT_MISSED,
    MISSED_MODAL,
    close_loop_copy,
    close_loop_done,
    missed_report_modal,
)
from bot.runtime import Runtime
from bot.slack.blocks.common import escape
from bot.slack.listeners.base import Call, Routes
from bot.slack.listeners.home import publish_home
from bot.slack.payload import BadInput, parse_id, parse_int, parse_user

log = logging.getLogger(__name__)
routes = Routes(digest.ItemError, cm.CommitmentError, listing.ListError, tell=Call.tell_in_thread)


def _replace(call: Call, text: str, blocks: list) -> None:
    """Change the message the click came from (a DM from the bot: chat.update works)."""
    i = call.interaction
    call.client.chat_update(channel=i.channel_id, ts=i.message_ts, text=text, blocks=blocks)


def on_item(call: Call) -> None:
    """Done · Snooze · Reassign on an item, wherever it is shown."""
    i = call.interaction
    value = i.action.picked if i.action else None
    if i.action_id == A_REASSIGN:
        value = parse_user(value, "Pick the person to hand this to.")
    shown_in = list_of(i.block_id)
    if shown_in is not None:
        listing.check_code(shown_in)
    rt = call.rt
    outcome = digest.act(
        rt.engine,
        rt.settings,
        call.team_id,
        call.user_id,
        i.action_id,
        parse_ref(i.block_id),
        value,
        clock.now(),
    )
    _show(call, outcome, shown_in)
    if outcome.commitment_done:
        rt.submit(
            followup.offer_close_loop,
            rt,
            call.notifier,
            call.team_id,
            outcome.commitment_done,
            call.user_id,
        )
    if outcome.notify_user and outcome.notify_text:
        rt.submit(call.notifier.dm, call.team_id, outcome.notify_user, outcome.notify_text)


def _show(call: Call, outcome: digest.Outcome, shown_in: str | None) -> None:
    """The item's new state where the click came from: Home again, the `/commitments` list
    again (through the response_url: it is an ephemeral), or the message with the row's
    controls swapped for what happened."""
    i = call.interaction
    if i.in_view:
        publish_home(call.rt, call.client, call.team_id, call.user_id)
    elif shown_in and i.is_ephemeral and call.respond is not None:
        what = outcome.note + (f": *{escape(outcome.subject)}*" if outcome.subject else "")
        text, blocks = listing.list_again(
            call.rt.engine,
            call.rt.settings,
            call.team_id,
            call.user_id,
            shown_in,
            clock.now(),
            what,
        )
        call.respond(text=text, blocks=blocks, replace_original=True)
    elif i.message is not None:
        note = f"{outcome.note} by <@{call.user_id}>"
        blocks = replace_item(list(i.message.get("blocks") or []), i.block_id, note)
        _replace(call, str(i.message.get("text") or "Your digest"), blocks)


for _action_id in ITEM_ACTIONS:
    routes.action(_action_id)(on_item)


@routes.view(SETTINGS_CALLBACK, error_block="digest_hour")
def on_settings(call: Call) -> None:
    view = call.view
    picked = view.element("digest_enabled").selected_options
    hour_text = view.element("digest_hour").selected_option
    if not hour_text:
        raise BadInput("Pick an hour.", block_id="digest_hour")
    hour = parse_int(hour_text, low=0, high=23, error="Pick an hour from the list.")
    digest.update_settings(
        call.rt.engine, call.team_id, call.user_id, enabled=bool(picked), hour=hour
    )
    call.ack()


def _commitment_id(call: Call) -> int:
    return parse_id(call.interaction.value, "This note is no longer available.")


@routes.action(A_CLOSE_SEND)
def on_close_send(call: Call) -> None:
    answer = followup.send_close_loop(
        call.rt, call.notifier, call.team_id, _commitment_id(call), call.user_id
    )
    if answer.startswith(":incoming_envelope:"):
        _replace(call, answer, close_loop_done(answer))
    else:
        call.tell_in_thread(answer)


@routes.action(A_CLOSE_COPY)
def on_close_copy(call: Call) -> None:
    loop = followup.copy_close_loop(
        call.rt.engine, call.rt.settings, call.team_id, _commitment_id(call), call.user_id
    )
    if loop is None:
        raise BadInput("This note is no longer available.")
    _replace(
        call,
        "Here's the note to copy",
        close_loop_copy(loop.draft, loop.recipient_email, loop.subject),
    )


@routes.action(A_CLOSE_NO)
def on_close_no(call: Call) -> None:
    _replace(call, "Nothing sent", close_loop_done("OK — nothing sent."))


@routes.action(A_REPORT_MISSED)
def on_report_missed(call: Call) -> None:
    value = call.interaction.value or ""
    cid = parse_id(value.removeprefix("c:"), "That button is out of date; nothing changed.")
    pre = followup.prefill_missed(call.rt.engine, call.rt.settings, call.team_id, cid, call.user_id)
    view = _real_report_modal(call.rt, call.team_id, pre)
    if view is None:  # the case engine's modal is not installed: our own small one
        view = missed_report_modal(
            pre.account_name, pre.context, json.dumps({"account_id": pre.account_id})
        )
    call.open_view(view)


@routes.view(MISSED_MODAL, error_block="context")
def on_missed_submit(call: Call) -> None:
    view = call.view
    text = view.text("context").strip()
    if not text:
        raise BadInput("Say what happened.", block_id="context")
    account_id = parse_id(
        view.metadata().get("account_id"),
        "This form is out of date, so nothing was saved; open it again from the latest message.",
    )
    call.ack()
    call.rt.submit(
        followup.plan_missed, call.rt, call.notifier, call.team_id, call.user_id, account_id, text
    )


def _real_report_modal(rt: Runtime, team_id: str, pre: followup.MissedPrefill) -> dict | None:
    """The `/report-risk` modal itself (bot.cases), pre-filled: account, the missed-commitment
    playbook and what happened — so the submission runs the normal case flow."""
    try:
        cards = importlib.import_module("bot.cases.plan_blocks")
        planning = importlib.import_module("bot.cases.report_form")
        form = planning.report_form(rt.engine, team_id, "")
        view = cards.report_modal(
            form.risks, account=(pre.account_id, pre.account_name), risk_key=followup.MISSED_RISK
        )
        context_block = cards.CONTEXT_BLOCK
    except (ImportError, AttributeError, TypeError) as exc:
        log.warning("report-risk modal unavailable (%s); using the simple one", type(exc).__name__)
        return None
    for block in view.get("blocks", []):
        if block.get("block_id") == context_block:
            block["element"]["initial_value"] = pre.context[:2900]
    return view
