"""Commitment capture in Slack: uploads (DM or channel), the "Extract commitments" message
shortcut, the review thread's controls, the Edit modal and `/commitments`.

Thin: parse the payload, call one service in `bot.capture`, render with its pure blocks. The
upload is acknowledged at once ("Reading …" in a thread); reading it leaves the request
through `rt.submit` (the Transcript row is the durable job, so the scheduler recovers it
if this process dies).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import clock
from bot.capture import blocks as rb
from bot.capture import ingest, listing, review
from bot.capture.extract import process_transcript
from bot.commitments import service as cm
from bot.db import session_scope
from bot.notify import DeliveryError
from bot.runtime import Runtime
from bot.slack.outbound import SlackNotifier

log = logging.getLogger(__name__)
SHORTCUT = "extract_commitments"
ACCOUNT_CONSTRAINT = {
    "action_id": rb.A_ACCOUNT,
    "block_id": re.compile(rf"^{rb.ACCOUNT_BLOCK}:\d+$"),
}


def _team(body: dict[str, Any]) -> str:
    return (
        (body.get("team") or {}).get("id")
        or body.get("team_id")
        or (body.get("user") or {}).get("team_id")
        or ""
    )


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id") or body.get("user_id") or ""


def _tell(client: WebClient, body: dict, text: str) -> None:
    """A private answer to the person who clicked (never a second public message)."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        if channel:
            client.chat_postEphemeral(
                channel=channel,
                user=_user(body),
                text=text,
                thread_ts=(body.get("message") or {}).get("thread_ts"),
            )
    except SlackApiError:
        log.warning("could not answer the click", exc_info=True)


_REVIEW_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_REVIEW_LOCKS_GUARD = threading.Lock()


def _review_lock(channel: str, ts: str) -> threading.Lock:
    with _REVIEW_LOCKS_GUARD:
        return _REVIEW_LOCKS.setdefault((channel, ts), threading.Lock())


def _apply(client: WebClient, body: dict, outcome: review.Outcome, engine: Any = None) -> None:
    """Update each review message — one update per message at a time, each rendered from
    the state stored at that moment, so the last update to land is always the latest."""
    for r in outcome.refresh:
        with _review_lock(r.channel, r.ts):
            fresh = review.current(engine, _team(body), r) if engine is not None else r
            try:
                client.chat_update(
                    channel=fresh.channel, ts=fresh.ts, text=fresh.text, blocks=fresh.blocks
                )
            except SlackApiError:
                log.warning("review message %s not refreshed", r.ts, exc_info=True)
    if outcome.note:
        _tell(client, body, outcome.note)


def _share_ts(info: dict, channel: str) -> str | None:
    """The ts of the message that shared the file in `channel` (files.info `shares`)."""
    for scope in ("public", "private"):
        shares = ((info.get("shares") or {}).get(scope) or {}).get(channel) or []
        if shares and shares[0].get("ts"):
            return str(shares[0].get("thread_ts") or shares[0]["ts"])
    return None


def start_capture(
    rt: Runtime,
    client: WebClient,
    team_id: str,
    ref: ingest.FileRef,
    *,
    channel: str,
    user: str,
    thread_ts: str | None,
    respond: Respond | None = None,
) -> None:
    """Record the upload once, say "Reading …" in its thread, read it in the background."""
    accepted = ingest.accept_upload(
        rt.engine, team_id, ref, channel_id=channel, user_id=user, thread_ts=thread_ts
    )
    notifier = SlackNotifier(client)
    if not accepted.new:
        if respond is not None:  # someone asked explicitly: say where the earlier answer is
            from bot.capture.extract import permalink

            link = permalink(notifier, team_id, accepted.channel_id, accepted.thread_ts)
            where = f" — <{link}|see that thread>" if link else ""
            respond(
                text=f"I already read {accepted.filename} on "
                f"{accepted.created_at:%b} {accepted.created_at.day}{where}.",
                response_type="ephemeral",
                replace_original=False,
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


def _seen_in(body: dict) -> tuple[str, str] | None:
    """The (channel, ts) of the message a click came from, if it was a message."""
    container = body.get("container") or {}
    if container.get("type") == "message" and not container.get("is_ephemeral"):
        return container.get("channel_id"), container.get("message_ts")
    return None


def _item_ref(body: dict, action: dict) -> tuple[int, str]:
    ref = rb.parse_item_ref(action.get("block_id"), action.get("value"))
    if ref is None:
        raise cm.CommitmentError("That button is from an older message; nothing changed.")
    return ref


def _edit_values(view: dict) -> dict[str, Any]:
    values = (view.get("state") or {}).get("values") or {}

    def get(block: str, action: str) -> dict:
        return (values.get(block) or {}).get(action) or {}

    due = get("due", "due").get("selected_date")
    return {
        "text": (get("text", "text").get("value") or "").strip(),
        "owner_user_id": get("owner", "owner").get("selected_user"),
        "due": dt.date.fromisoformat(due) if due else None,
        "category": (get("category", "category").get("selected_option") or {}).get("value")
        or "other",
    }


def register(app: App, rt: Runtime) -> None:
    # -- uploads --------------------------------------------------------------------------
    @app.event({"type": "message", "subtype": "file_share"})
    def on_file_message(event: dict, body: dict, client: WebClient) -> None:
        team_id = body.get("team_id") or _team(body)
        direct = event.get("channel_type") in {"im", "mpim"}  # a (group) DM that has the app
        for ref in ingest.files_of(event):
            if ingest.looks_like_transcript(ref, direct_message=direct):
                start_capture(
                    rt,
                    client,
                    team_id,
                    ref,
                    channel=event["channel"],
                    user=event.get("user") or "",
                    thread_ts=event.get("thread_ts") or event.get("ts"),
                )

    @app.event("file_shared")
    def on_file_shared(event: dict, body: dict, client: WebClient) -> None:
        team_id = body.get("team_id") or _team(body)
        file_id, channel = event.get("file_id") or "", event.get("channel_id") or ""
        if not file_id or not channel or ingest.known_file(rt.engine, team_id, file_id):
            return  # the message/file_share delivery of this upload got here first
        info = client.files_info(file=file_id)["file"]
        ref = ingest.FileRef(
            file_id, str(info.get("name") or ""), info.get("mimetype"), info.get("size")
        )
        if ingest.looks_like_transcript(ref, direct_message=channel.startswith("D")):
            start_capture(
                rt,
                client,
                team_id,
                ref,
                channel=channel,
                user=event.get("user_id") or "",
                thread_ts=_share_ts(info, channel),
            )

    @app.shortcut(SHORTCUT)
    def on_shortcut(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        message = body.get("message") or {}
        refs = ingest.files_of(message)
        if not refs:
            respond(text=rb.no_file_text(), response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id") or ""
        for ref in refs:
            start_capture(
                rt,
                client,
                _team(body),
                ref,
                channel=channel,
                user=_user(body),
                thread_ts=message.get("thread_ts") or message.get("ts"),
                respond=respond,
            )

    @app.event("message")
    def on_other_message(event: dict) -> None:
        """Plain messages need no answer; acknowledging them keeps Slack from retrying."""

    # -- the review thread ---------------------------------------------------------------
    def decide(action_name: str):  # type: ignore[no-untyped-def]
        def handler(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
            ack()
            try:
                cid, expected = _item_ref(body, action)
                outcome = review.decide(
                    rt.engine,
                    rt.settings,
                    _team(body),
                    _user(body),
                    action_name,
                    cid,
                    expected,
                    _seen_in(body),
                )
            except (cm.CommitmentError, review.ReviewError) as exc:
                _tell(client, body, str(exc))
                return
            _apply(client, body, outcome, rt.engine)

        return handler

    app.action(rb.A_CONFIRM)(decide("confirm"))
    app.action(rb.A_DISMISS)(decide("dismiss"))
    app.action(rb.A_DONE)(decide("done"))

    @app.action(rb.A_OWNER)
    def on_owner(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        try:
            cid, expected = _item_ref(body, action)
            outcome = review.set_owner(
                rt.engine,
                rt.settings,
                _team(body),
                _user(body),
                cid,
                expected,
                action.get("selected_user") or "",
                _seen_in(body),
            )
        except (cm.CommitmentError, review.ReviewError) as exc:
            _tell(client, body, str(exc))
            return
        _apply(client, body, outcome, rt.engine)

    @app.action(rb.A_CONFIRM_ALL)
    def on_confirm_all(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        transcript_id = rb.parse_transcript_ref(action.get("value"))
        try:
            outcome = review.confirm_all(
                rt.engine, rt.settings, _team(body), _user(body), transcript_id or 0
            )
        except (cm.CommitmentError, review.ReviewError) as exc:
            _tell(client, body, str(exc))
            return
        _apply(client, body, outcome, rt.engine)

    @app.action(ACCOUNT_CONSTRAINT)
    def on_account(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        transcript_id = rb.parse_transcript_ref(action.get("block_id"))
        picked = str((action.get("selected_option") or {}).get("value") or "")
        try:
            if not picked.isdigit():
                raise review.ReviewError("Pick an account from the list.")
            outcome = review.set_account(
                rt.engine, rt.settings, _team(body), _user(body), transcript_id or 0, int(picked)
            )
        except (cm.CommitmentError, review.ReviewError) as exc:
            _tell(client, body, str(exc))
            return
        _apply(client, body, outcome, rt.engine)

    @app.action(rb.A_EDIT)
    def on_edit(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        try:
            cid, expected = _item_ref(body, action)
            target = review.edit_target(
                rt.engine, rt.settings, _team(body), _user(body), cid, expected
            )
        except (cm.CommitmentError, review.ReviewError) as exc:
            _tell(client, body, str(exc))
            return
        client.views_open(
            trigger_id=body["trigger_id"],
            view=rb.edit_modal(target.item, target.channel, target.ts),
        )

    @app.view(rb.EDIT_CALLBACK)
    def on_edit_saved(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = _edit_values(view)
        if not values["text"]:
            ack(response_action="errors", errors={"text": "Say what is promised."})
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        try:
            outcome = review.save_edit(
                rt.engine, rt.settings, _team(body), _user(body), int(meta.get("c") or 0), **values
            )
        except (cm.CommitmentError, review.ReviewError) as exc:
            ack(response_action="errors", errors={"text": str(exc)[:150]})
            return
        ack()
        _apply(client, body, outcome, rt.engine)

    # -- /commitments --------------------------------------------------------------------
    @app.command("/commitments")
    def on_commitments(ack: Ack, body: dict, client: WebClient) -> None:
        team_id, user = _team(body), _user(body)
        query = listing.parse_query(body.get("text"))
        if query.kind == "settings":
            ack()
            from bot.digest.service import settings_view
            from bot.people.service import get_person

            with session_scope(rt.engine) as session:
                person = get_person(session, team_id, user)
                view = settings_view(person, rt.settings.digest_hour)
            client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        try:
            with session_scope(rt.engine) as session:
                today = _local_today(session, team_id, user, rt)
                text, blocks = listing.open_list(session, team_id, user, body.get("text"), today)
        except listing.ListError as exc:
            ack(text=str(exc))
            return
        ack(text=text, blocks=blocks)


def _local_today(session: Any, team_id: str, user: str, rt: Runtime) -> dt.date:
    from bot.digest.service import local_now
    from bot.people.service import get_person

    person = get_person(session, team_id, user)
    return local_now(person, rt.settings, clock.now()).date()
