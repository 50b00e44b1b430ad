"""Item controls (Done · Snooze · Reassign) in the digest, reminders and App Home; the digest
settings modal; the close-the-loop buttons; the CSM's "report risk: missed commitment".

Thin: ack, parse, call one service, render. A refused click (stale, not allowed, past date)
gets a polite ephemeral answer in a DM, or a small modal on the Home tab.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import clock
from bot.commitments import service as cm
from bot.db import session_scope
from bot.digest import service as digest
from bot.digest.blocks import ITEM_ACTIONS, SETTINGS_CALLBACK, parse_ref, replace_item
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
from bot.slack.blocks.common import plain, section
from bot.slack.outbound import SlackNotifier

log = logging.getLogger(__name__)


def _ids(body: dict) -> tuple[str, str]:
    team_id = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", "")
    return team_id, body["user"]["id"]


def _action_value(action: dict) -> str | None:
    for key in ("selected_date", "selected_user"):
        if action.get(key):
            return str(action[key])
    if isinstance(action.get("selected_option"), dict):
        return str(action["selected_option"].get("value"))
    return action.get("value")


def tell(client: WebClient, body: dict, text: str) -> None:
    """A short answer to the clicker: ephemeral under a message, a tiny modal on Home."""
    user_id = body["user"]["id"]
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        if container.get("type") == "view" or not channel:
            client.views_open(
                trigger_id=body["trigger_id"],
                view={
                    "type": "modal",
                    "title": plain("Followthrough", 24),
                    "close": plain("OK", 24),
                    "blocks": [section(text)],
                },
            )
        else:
            client.chat_postEphemeral(channel=channel, user=user_id, text=text)
    except Exception:  # noqa: BLE001 — the answer is a courtesy; never fail the click on it
        log.warning("could not answer the click", exc_info=True)


def refresh_home(rt: Runtime, client: WebClient, team_id: str, user_id: str) -> None:
    from bot.home.service import build_home

    with session_scope(rt.engine) as session:
        view = build_home(session, rt.settings, team_id, user_id, clock.now())
    client.views_publish(user_id=user_id, view=view)


def register(app: App, rt: Runtime) -> None:
    def on_item(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        team_id, user_id = _ids(body)
        action = body["actions"][0]
        ref = parse_ref(action.get("block_id"))
        try:
            outcome = digest.act(
                rt.engine,
                rt.settings,
                team_id,
                user_id,
                action["action_id"],
                ref,
                _action_value(action),
                clock.now(),
            )
        except (digest.ItemError, cm.CommitmentError) as exc:
            tell(client, body, str(exc))
            return
        notifier = SlackNotifier(client)
        container = body.get("container") or {}
        if container.get("type") == "view":
            refresh_home(rt, client, team_id, user_id)
        elif body.get("message"):
            note = f"{outcome.note} by <@{user_id}>"
            blocks = replace_item(body["message"].get("blocks", []), action["block_id"], note)
            client.chat_update(
                channel=container["channel_id"],
                ts=container["message_ts"],
                text=body["message"].get("text", "Your digest"),
                blocks=blocks,
            )
        if outcome.commitment_done:
            rt.submit(
                followup.offer_close_loop, rt, notifier, team_id, outcome.commitment_done, user_id
            )
        if outcome.notify_user and outcome.notify_text:
            rt.submit(notifier.dm, team_id, outcome.notify_user, outcome.notify_text)

    for action_id in ITEM_ACTIONS:
        app.action(action_id)(on_item)

    @app.view(SETTINGS_CALLBACK)
    def on_settings(ack: Ack, body: dict, view: dict) -> None:
        values = view["state"]["values"]
        picked = (values.get("digest_enabled", {}).get("enabled") or {}).get(
            "selected_options"
        ) or []
        hour_opt = (values.get("digest_hour", {}).get("hour") or {}).get("selected_option")
        if not hour_opt:
            ack(response_action="errors", errors={"digest_hour": "Pick an hour."})
            return
        team_id, user_id = _ids(body)
        with session_scope(rt.engine) as session:  # one row: fast, and the modal can say why
            digest.save_settings(
                session, team_id, user_id, enabled=bool(picked), hour=int(hour_opt["value"])
            )
        ack()

    def _close_ids(body: dict) -> tuple[str, str, int, dict]:
        team_id, user_id = _ids(body)
        action = body["actions"][0]
        value = str(action.get("value") or "")
        return team_id, user_id, int(value) if value.isdigit() else 0, body.get("container", {})

    def _replace(client: WebClient, container: dict, blocks: list, text: str) -> None:
        client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text=text, blocks=blocks
        )

    @app.action(A_CLOSE_SEND)
    def on_close_send(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        team_id, user_id, cid, container = _close_ids(body)
        answer = followup.send_close_loop(rt, SlackNotifier(client), team_id, cid, user_id)
        if answer.startswith(":incoming_envelope:"):
            _replace(client, container, close_loop_done(answer), answer)
        else:
            tell(client, body, answer)

    @app.action(A_CLOSE_COPY)
    def on_close_copy(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        team_id, user_id, cid, container = _close_ids(body)
        with session_scope(rt.engine) as session:
            allowed = followup.may_close_loop(session, team_id, cid, user_id, rt.settings)
            loop = followup.close_loop_for(session, team_id, cid) if allowed else None
            if loop is not None:
                followup.claim_close_loop(session, team_id, cid, user_id, "copied")
        if loop is None:
            tell(client, body, "This note is no longer available.")
            return
        _replace(
            client,
            container,
            close_loop_copy(loop.draft, loop.recipient_email, loop.subject),
            "Here's the note to copy",
        )

    @app.action(A_CLOSE_NO)
    def on_close_no(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        _, _, _, container = _close_ids(body)
        _replace(client, container, close_loop_done("OK — nothing sent."), "Nothing sent")

    @app.action(A_REPORT_MISSED)
    def on_report_missed(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        team_id, user_id = _ids(body)
        value = str(body["actions"][0].get("value") or "")
        cid = int(value[2:]) if value.startswith("c:") and value[2:].isdigit() else 0
        try:
            with session_scope(rt.engine) as session:
                pre = followup.missed_prefill(session, team_id, cid, user_id, rt.settings)
        except cm.CommitmentError as exc:
            tell(client, body, str(exc))
            return
        view = _real_report_modal(rt, team_id, pre)
        if view is None:  # the case engine's modal is not installed: our own small one
            view = missed_report_modal(
                pre.account_name, pre.context, json.dumps({"account_id": pre.account_id})
            )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(MISSED_MODAL)
    def on_missed_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        text = (view["state"]["values"].get("context", {}).get("context") or {}).get("value")
        if not (text or "").strip():
            ack(response_action="errors", errors={"context": "Say what happened."})
            return
        ack()
        team_id, user_id = _ids(body)
        meta: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
        rt.submit(
            followup.plan_missed,
            rt,
            SlackNotifier(client),
            team_id,
            user_id,
            int(meta.get("account_id") or 0),
            text.strip(),
        )


def _real_report_modal(rt: Runtime, team_id: str, pre: followup.MissedPrefill) -> dict | None:
    """The `/report-risk` modal itself (bot.cases), pre-filled: account, the missed-commitment
    playbook and what happened — so the submission runs the normal case flow."""
    try:
        cards = importlib.import_module("bot.cases.cards")
        planning = importlib.import_module("bot.cases.report_form")
        form = planning.report_form(rt.engine, team_id, "")
        view = cards.report_modal(
            form.risks, account=(pre.account_id, pre.account_name), risk_key=followup.MISSED_RISK
        )
        context_block = cards.CONTEXT_BLOCK
    except (ImportError, AttributeError, TypeError):
        log.warning("report-risk modal unavailable; using the simple one", exc_info=True)
        return None
    for block in view.get("blocks", []):
        if block.get("block_id") == context_block:
            block["element"]["initial_value"] = pre.context[:2900]
    return view
