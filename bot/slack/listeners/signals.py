"""Suggested-case DMs: Start plan / Not now / Dismiss (with a reason, in a modal).

Thin: ack, parse the button's `id:expected-state`, call one service in `bot.signals`, answer.
Refusals (not the CSM, case owner or a CS admin) and stale clicks get an ephemeral answer.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.outbox.scheduled import kick
from bot.runtime import Runtime
from bot.signals import blocks, flows, service
from bot.slack.outbound import SlackNotifier


def _ids(body: dict[str, Any], value: str | None) -> tuple[str, str, int]:
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
    user = (body.get("user") or {}).get("id", "")
    head = (value or "").split(":", 1)[0]
    if not head.isdigit():
        raise service.SignalError("That button is out of date; open the latest message.")
    return team, user, int(head)


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def register(app: App, rt: Runtime) -> None:
    @app.action(blocks.START)
    def on_start(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        try:
            team, user, sid = _ids(body, body["actions"][0].get("value"))
            start = service.begin_start(rt.engine, rt.settings, team, sid, user)
        except service.SignalError as exc:
            _tell(respond, str(exc))
            return
        notifier = SlackNotifier(client)
        kick(rt, notifier, team)
        rt.submit(flows.start_plan, rt, notifier, start, user)

    @app.action(blocks.SNOOZE)
    def on_snooze(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        try:
            team, user, sid = _ids(body, body["actions"][0].get("value"))
            until = service.snooze(rt.engine, rt.settings, team, sid, user)
        except service.SignalError as exc:
            _tell(respond, str(exc))
            return
        kick(rt, SlackNotifier(client), team)
        _tell(
            respond, f"Put aside; I'll bring it back on {until:%b %d}. New signals still add to it."
        )

    @app.action(blocks.DISMISS)
    def on_dismiss(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        try:
            team, user, sid = _ids(body, body["actions"][0].get("value"))
            with_view = service.check(rt.engine, team, sid, user, rt.settings)
        except service.SignalError as exc:
            _tell(respond, str(exc))
            return
        client.views_open(trigger_id=body["trigger_id"], view=blocks.dismiss_modal(with_view))

    @app.view(blocks.DISMISS_VIEW)
    def on_dismiss_submit(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        values = (view.get("state") or {}).get("values") or {}
        reason = ((values.get(blocks.REASON_BLOCK) or {}).get("value") or {}).get("value") or ""
        try:
            team, user, sid = _ids(body, view.get("private_metadata"))
            service.dismiss(rt.engine, rt.settings, team, sid, user, reason)
        except service.SignalError as exc:
            ack(response_action="errors", errors={blocks.REASON_BLOCK: str(exc)[:150]})
            return
        ack()
        kick(rt, SlackNotifier(client), team)
