"""Step DMs: Yes / No / Edit, their modals, reassign, and "Is the risk resolved?".

Thin: ack, parse, call one service in bot.cases, render. Refusals and stale clicks get an
ephemeral answer through the response_url; nothing is sent twice (the services guard it).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.cases import control, decisions
from bot.cases import step_messages as msgs
from bot.cases.records import CaseError
from bot.cases.steps import StateError
from bot.db import session_scope
from bot.runtime import Runtime
from bot.slack.outbound import SlackNotifier

log = logging.getLogger(__name__)


def team_of(body: dict[str, Any]) -> str:
    return (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")


def user_of(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id", "")


def tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def field(view: dict[str, Any], block_id: str) -> Any:
    """The value of one input in a submitted view (text, user, conversation …)."""
    entry = (
        next(iter(((view.get("state") or {}).get("values") or {}).get(block_id, {}).values()), None)
        or {}
    )
    for key in ("value", "selected_user", "selected_conversation", "selected_channel"):
        if entry.get(key):
            return entry[key]
    return None


def register(app: App, rt: Runtime) -> None:
    def decide(
        body: dict, client: WebClient, action: str, step_id: int, expected: str, **extra: Any
    ) -> str | None:
        return decisions.decide(
            rt,
            SlackNotifier(client),
            team_of(body),
            step_id,
            user_of(body),
            action,
            expected=expected,
            **extra,
        )

    @app.action(msgs.YES)
    def on_yes(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        try:
            step_id, expected = decisions.parse_value(body["actions"][0].get("value"))
            note = decide(body, client, "yes", step_id, expected)
        except CaseError as exc:
            note = str(exc)
        if note:
            tell(respond, note)

    def open_modal(body: dict, client: WebClient, respond: Respond, build: Any) -> None:
        try:
            step_id, expected = decisions.parse_value(body["actions"][0].get("value"))
            with session_scope(rt.engine) as s:
                view = decisions.check_decidable(
                    s, team_of(body), step_id, user_of(body), rt.settings, expected
                )
        except CaseError as exc:
            tell(respond, str(exc))
            return
        client.views_open(trigger_id=body["trigger_id"], view=build(view))

    @app.action(msgs.EDIT)
    def on_edit(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        open_modal(body, client, respond, msgs.edit_modal)

    @app.action(msgs.NO)
    def on_no(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        open_modal(body, client, respond, msgs.no_modal)

    def submit(
        ack: Ack,
        body: dict,
        client: WebClient,
        view: dict,
        action: str,
        error_block: str,
        **extra: Any,
    ) -> None:
        team_id, user_id = team_of(body), user_of(body)
        try:
            step_id, expected = decisions.parse_value(view.get("private_metadata"))
            with session_scope(rt.engine) as s:
                decisions.check_decidable(s, team_id, step_id, user_id, rt.settings, expected)
        except CaseError as exc:
            ack(response_action="errors", errors={error_block: str(exc)[:150]})
            return
        ack()
        notifier = SlackNotifier(client)
        try:
            note = decisions.decide(
                rt, notifier, team_id, step_id, user_id, action, expected=expected, **extra
            )
        except CaseError as exc:
            note = str(exc)
        if note:
            notifier.dm(team_id, user_id, note)

    @app.view(msgs.EDIT_VIEW)
    def on_edit_submit(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        text = field(view, "draft") or ""
        if not text.strip():
            ack(response_action="errors", errors={"draft": "The message cannot be empty."})
            return
        recipient = field(view, "recipient")
        submit(ack, body, client, view, "edit", "draft", text=text, recipient=recipient)

    @app.view(msgs.NO_VIEW)
    def on_no_submit(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        submit(ack, body, client, view, "no", "reason", reason=field(view, "reason"))

    @app.action(msgs.REASSIGN)
    def on_reassign(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        action = body["actions"][0]
        _, step_id, expected = (action.get("block_id", "") + "::").split(":")[:3]
        new_user = action.get("selected_user") or ""
        team_id, user_id = team_of(body), user_of(body)
        try:
            if not step_id.isdigit():
                raise CaseError("That control is not recognised any more.")
            with session_scope(rt.engine) as s:
                outbox = control.reassign_step(
                    s, team_id, int(step_id), new_user, user_id, rt.settings, expected or None
                )
        except (CaseError, StateError) as exc:
            tell(respond, str(exc))
            return
        outbox.flush(rt, SlackNotifier(client))
        tell(respond, f"Step reassigned to <@{new_user}>; they get it in their working hours.")

    def on_answer(reply: str):  # type: ignore[no-untyped-def]
        def handler(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
            ack()
            try:
                case_id, position = decisions.parse_value(body["actions"][0].get("value"))
                text, blocks = decisions.answer(
                    rt,
                    SlackNotifier(client),
                    team_of(body),
                    case_id,
                    int(position or 0),
                    reply,
                    user_of(body),
                )
            except (CaseError, ValueError) as exc:
                tell(respond, str(exc))
                return
            respond(text=text, blocks=blocks, replace_original=True)

        return handler

    app.action(msgs.ANSWER_SAVED)(on_answer("saved"))
    app.action(msgs.ANSWER_CHURNED)(on_answer("churned"))
    app.action(msgs.ANSWER_NOT_YET)(on_answer("not_yet"))
