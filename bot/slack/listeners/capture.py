"""Commitment capture in Slack: uploads (DM or channel), the "Extract commitments" message
shortcut, the review thread's controls, the Edit modal and `/commitments`.

Thin: parse the payload, call one service in `bot.capture`, render with its pure blocks. The
upload is acknowledged at once ("Reading …" in a thread); reading it leaves the request
through `rt.submit` (the Transcript row is the durable job, so the scheduler recovers it
if this process dies). Answers to the reviewer go into the review thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import clock
from bot.capture import blocks as rb
from bot.capture import ingest, listing, review
from bot.capture.extract import process_transcript
from bot.commitments import service as cm
from bot.digest.service import settings_for
from bot.notify import DeliveryError
from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput, parse_id, parse_user, slack_id_ok

log = logging.getLogger(__name__)
routes = Routes(cm.CommitmentError, review.ReviewError, listing.ListError, tell=Call.tell_in_thread)
SHORTCUT = "extract_commitments"
ACCOUNT_CONSTRAINT = {
    "action_id": rb.A_ACCOUNT,
    "block_id": re.compile(rf"^{rb.ACCOUNT_BLOCK}:"),  # the handler reads the id
}
STALE_FORM = "This form is out of date, so nothing was saved; open it again from the review."
DECISIONS = {rb.A_CONFIRM: "confirm", rb.A_DISMISS: "dismiss", rb.A_DONE: "done"}
OLDER = "That button is from an older message, so nothing changed; use the latest one."


_REVIEW_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_REVIEW_LOCKS_GUARD = threading.Lock()


def _review_lock(channel: str, ts: str) -> threading.Lock:
    with _REVIEW_LOCKS_GUARD:
        return _REVIEW_LOCKS.setdefault((channel, ts), threading.Lock())


def _apply(call: Call, outcome: review.Outcome) -> None:
    """Re-render the review messages the change touched, and say what the service said.
    One update per message at a time, each rendered from what is stored at that moment:
    two clicks' updates may otherwise land in either order and leave the older state."""
    for r in outcome.refresh:
        with _review_lock(r.channel, r.ts):
            fresh = review.current(call.rt.engine, call.team_id, r)
            try:
                call.client.chat_update(
                    channel=fresh.channel, ts=fresh.ts, text=fresh.text, blocks=fresh.blocks
                )
            except SlackApiError as exc:
                log.warning("review message %s not refreshed: %s", r.ts, exc.response.get("error"))
    if outcome.note:
        call.tell_in_thread(outcome.note)


def _share_ts(info: dict, channel: str) -> str | None:
    """The ts of the message that shared the file in `channel` (files.info `shares`)."""
    for scope in ("public", "private"):
        shares = ((info.get("shares") or {}).get(scope) or {}).get(channel) or []
        if shares and shares[0].get("ts"):
            return str(shares[0].get("thread_ts") or shares[0]["ts"])
    return None


def start_capture(call: Call, ref: ingest.FileRef, thread_ts: str | None) -> None:
    """Record the upload once, say "Reading …" in its thread, read it in the background.
    A file read before is only answered when someone asked (the shortcut): where that was."""
    rt, team_id, channel, user = call.rt, call.team_id, call.interaction.channel_id, call.user_id
    accepted = ingest.accept_upload(
        rt.engine, team_id, ref, channel_id=channel, user_id=user, thread_ts=thread_ts
    )
    notifier = call.notifier
    if not accepted.new:
        if call.interaction.kind == "message_action":
            from bot.capture.extract import permalink

            link = permalink(notifier, team_id, accepted.channel_id, accepted.thread_ts)
            where = f" — <{link}|see that thread>" if link else ""
            call.tell(
                f"I already read {accepted.filename} on "
                f"{accepted.created_at:%b} {accepted.created_at.day}{where}."
            )
        return
    reading = rb.reading_text(ref.name or accepted.filename)
    try:
        posted = notifier.post(team_id, channel, reading, thread_ts=thread_ts)
    except DeliveryError as exc:
        posted = None
        if not exc.retryable:  # a conversation the app cannot post in: answer in a DM
            posted = notifier.dm(team_id, user, reading)
            thread_ts = None
        # Slack down or rate-limiting: skip the "Reading…" note; the upload is stored and the
        # review (itself retried until Slack takes it) still arrives.
    if posted is not None and (thread_ts is None or posted.channel != channel):
        ingest.set_thread(rt.engine, team_id, accepted.transcript_id, posted.channel, posted.ts)
    rt.submit(process_transcript, rt, notifier, accepted.transcript_id)


def _seen_in(call: Call) -> tuple[str, str] | None:
    """The (channel, ts) of the message a click came from, if it was a message."""
    i = call.interaction
    if i.container_type == "message" and not i.is_ephemeral:
        return i.channel_id, i.message_ts
    return None


def _item_ref(call: Call) -> tuple[int, str]:
    ref = rb.parse_item_ref(call.interaction.block_id, call.interaction.value)
    if ref is None:
        raise BadInput(OLDER)
    return ref


# -- uploads -----------------------------------------------------------------------------


@routes.event({"type": "message", "subtype": "file_share"})
def on_file_message(call: Call) -> None:
    i = call.interaction
    event = i.event or {}
    direct = event.get("channel_type") in {"im", "mpim"}  # a (group) DM that has the app
    for ref in ingest.files_of(event):
        if ingest.looks_like_transcript(ref, direct_message=direct):
            start_capture(call, ref, i.thread_ts or str(event.get("ts") or "") or None)


@routes.event("file_shared")
def on_file_shared(call: Call) -> None:
    i = call.interaction
    file_id = str((i.event or {}).get("file_id") or "")
    if not slack_id_ok(file_id) or not i.channel_id:
        return
    if ingest.known_file(call.rt.engine, call.team_id, file_id):
        return  # the message/file_share delivery of this upload got here first
    info = call.client.files_info(file=file_id)["file"]
    ref = ingest.file_ref(info)
    if ref is not None and ingest.looks_like_transcript(
        ref, direct_message=i.channel_id.startswith("D")
    ):
        start_capture(call, ref, _share_ts(info, i.channel_id))


@routes.shortcut(SHORTCUT)
def on_shortcut(call: Call) -> None:
    i = call.interaction
    message = i.message or {}
    refs = ingest.files_of(dict(message))
    if not refs:
        call.tell(rb.no_file_text())
        return
    for ref in refs:
        start_capture(call, ref, i.thread_ts or str(message.get("ts") or "") or None)


@routes.event("message")
def on_other_message(call: Call) -> None:
    """Plain messages need no answer; acknowledging them keeps Slack from retrying."""


# -- the review thread ---------------------------------------------------------------------


@routes.action(rb.A_CONFIRM)
@routes.action(rb.A_DISMISS)
@routes.action(rb.A_DONE)
def on_decide(call: Call) -> None:
    cid, expected = _item_ref(call)
    decision = DECISIONS[call.interaction.action_id]
    outcome = review.decide(
        call.rt.engine,
        call.rt.settings,
        call.team_id,
        call.user_id,
        decision,
        cid,
        expected,
        _seen_in(call),
    )
    _apply(call, outcome)


@routes.action(rb.A_OWNER)
def on_owner(call: Call) -> None:
    cid, expected = _item_ref(call)
    action = call.interaction.action
    outcome = review.set_owner(
        call.rt.engine,
        call.rt.settings,
        call.team_id,
        call.user_id,
        cid,
        expected,
        parse_user(action.selected_user if action else None, "Pick who owns this."),
        _seen_in(call),
    )
    _apply(call, outcome)


@routes.action(rb.A_CONFIRM_ALL)
def on_confirm_all(call: Call) -> None:
    transcript_id = rb.parse_transcript_ref(call.interaction.value)
    if transcript_id is None:
        raise BadInput(OLDER)
    outcome = review.confirm_all(
        call.rt.engine, call.rt.settings, call.team_id, call.user_id, transcript_id
    )
    _apply(call, outcome)


@routes.action(ACCOUNT_CONSTRAINT)
def on_account(call: Call) -> None:
    transcript_id = rb.parse_transcript_ref(call.interaction.block_id)
    if transcript_id is None:
        raise BadInput(OLDER)
    action = call.interaction.action
    account_id = parse_id(
        action.selected_option if action else None, "Pick an account from the list."
    )
    outcome = review.set_account(
        call.rt.engine, call.rt.settings, call.team_id, call.user_id, transcript_id, account_id
    )
    _apply(call, outcome)


@routes.action(rb.A_EDIT)
def on_edit(call: Call) -> None:
    cid, expected = _item_ref(call)
    target = review.edit_target(
        call.rt.engine, call.rt.settings, call.team_id, call.user_id, cid, expected
    )
    call.open_view(rb.edit_modal(target.item, target.channel, target.ts))


def _edit_values(call: Call) -> dict[str, Any]:
    view = call.view
    text = view.text("text", 3000).strip()
    if not text:
        raise BadInput("Say what is promised.", block_id="text")
    owner = view.element("owner").selected_user
    if owner is not None:
        owner = parse_user(owner, "Pick who owns this.")
    due_text = view.element("due").selected_date
    try:
        due = dt.date.fromisoformat(due_text) if due_text else None
    except ValueError:
        raise BadInput("Pick a date from the calendar.", block_id="due") from None
    category = view.element("category").selected_option or "other"
    if category not in rb.CATEGORY_LABELS:
        raise BadInput("Pick a category from the list.", block_id="category")
    return {"text": text, "owner_user_id": owner, "due": due, "category": category}


@routes.view(rb.EDIT_CALLBACK, error_block="text")
def on_edit_saved(call: Call) -> None:
    values = _edit_values(call)
    cid = parse_id(call.view.metadata().get("c"), STALE_FORM)
    outcome = review.save_edit(
        call.rt.engine, call.rt.settings, call.team_id, call.user_id, cid, **values
    )
    call.ack()
    _apply(call, outcome)


# -- /commitments ------------------------------------------------------------------------


@routes.command("/commitments")
def on_commitments(call: Call) -> None:
    text = call.interaction.text
    if listing.parse_query(text).kind == "settings":
        call.ack()
        rt = call.rt
        call.open_view(settings_for(rt.engine, rt.settings, call.team_id, call.user_id))
        return
    reply, blocks = listing.commitments_list(
        call.rt.engine, call.rt.settings, call.team_id, call.user_id, text, clock.now()
    )
    call.ack(text=reply, blocks=blocks)
