"""/report-risk, the "Report a risk" shortcut, the report modal and the case card's controls.

Thin: parse the payload, call one service in `bot.cases`, render with `bot.cases.cards`.
Everything slow (drafting, posting cards) leaves the request through `rt.submit`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.cases import attachment, cards, flows, plan_edits, report_form
from bot.cases import report as planning
from bot.runtime import Runtime
from bot.slack.outbound import SlackNotifier

log = logging.getLogger(__name__)
SHORTCUT = "report_risk"


def _team(body: dict[str, Any]) -> str:
    return (
        (body.get("team") or {}).get("id")
        or body.get("team_id")
        or (body.get("user") or {}).get("team_id")
        or ""
    )


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id") or body.get("user_id") or ""


def _values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """block_id → the single element state in it."""
    out = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for state in elements.values():
            out[block_id] = state
    return out


def _selected(state: dict[str, Any] | None) -> str | None:
    option = (state or {}).get("selected_option") or {}
    return option.get("value")


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _admins(rt: Runtime) -> list[str]:
    return list(rt.settings.cs_admins)


def register(app: App, rt: Runtime) -> None:
    def open_report_modal(
        client: WebClient, trigger_id: str, team_id: str, text: str, channel_id: str | None
    ) -> str | None:
        form = report_form.report_form(rt.engine, team_id, text)
        client.views_open(
            trigger_id=trigger_id,
            view=cards.report_modal(form.risks, account=form.account, channel_id=channel_id),
        )
        return form.note

    @app.command("/report-risk")
    def report_risk_command(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        note = open_report_modal(
            client, body["trigger_id"], _team(body), body.get("text", ""), body.get("channel_id")
        )
        if note:
            respond(text=note, response_type="ephemeral")

    @app.shortcut(SHORTCUT)
    def report_risk_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_report_modal(client, body["trigger_id"], _team(body), "", None)

    @app.view(cards.REPORT_CALLBACK)
    def report_submitted(ack: Ack, body: dict, client: WebClient) -> None:
        view = body["view"]
        values = _values(view)
        account = _selected(values.get(cards.ACCOUNT_BLOCK))
        request = planning.ReportRequest(
            team_id=_team(body),
            risk_key=_selected(values.get(cards.RISK_BLOCK)) or "",
            context=(values.get(cards.CONTEXT_BLOCK) or {}).get("value") or "",
            links=(values.get(cards.LINKS_BLOCK) or {}).get("value"),
            reporter_user_id=_user(body),
            account_id=int(account) if account and account.isdigit() else None,
        )
        errors = report_form.form_errors(rt.engine, request)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        attached = attachment.file_ref((values.get(cards.TRANSCRIPT_BLOCK) or {}).get("files"))
        # queued before the ack (instant) so a worker already holds it when Slack hears back
        rt.submit(flows.make_case, rt, SlackNotifier(client), request, attached)
        ack()

    @app.action(cards.STEP_MENU)
    def step_menu(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        team_id, user_id = _team(body), _user(body)
        try:
            case_id, position, op = _parse_step_value(
                (action.get("selected_option") or {}).get("value", "")
            )
            if op == "drop":
                plan_edits.apply_edit(
                    rt.engine, team_id, case_id, position, "drop", None, user_id, _admins(rt)
                )
                rt.submit(flows.refresh_card, rt, SlackNotifier(client), team_id, case_id)
                return
            step = plan_edits.step_for_edit(
                rt.engine, team_id, case_id, position, user_id, _admins(rt)
            )
        except plan_edits.PlanEditError as exc:
            respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        builder = {
            "draft": cards.edit_draft_modal,
            "delay": cards.delay_modal,
            "reassign": cards.reassign_modal,
        }[op]
        client.views_open(trigger_id=body["trigger_id"], view=builder(case_id, step))

    def edit_submitted(op: str):  # type: ignore[no-untyped-def]
        def handler(ack: Ack, body: dict, client: WebClient) -> None:
            view = body["view"]
            meta = _metadata(view)
            state = _values(view).get(cards.VALUE_BLOCK) or {}
            value = state.get("selected_user") if op == "reassign" else state.get("value")
            team_id = _team(body)
            try:
                plan_edits.apply_edit(
                    rt.engine,
                    team_id,
                    int(meta.get("case", 0)),
                    int(meta.get("position", 0)),
                    op,
                    value,
                    _user(body),
                    _admins(rt),
                )
            except (plan_edits.PlanEditError, ValueError) as exc:
                ack(response_action="errors", errors={cards.VALUE_BLOCK: str(exc)[:300]})
                return
            case_id, position = int(meta["case"]), int(meta["position"])
            if op == "reassign":  # the draft names its assignee: write it again for them
                rt.submit(
                    flows.redraft_and_refresh,
                    rt,
                    SlackNotifier(client),
                    team_id,
                    case_id,
                    position,
                    _user(body),
                )
            else:
                rt.submit(flows.refresh_card, rt, SlackNotifier(client), team_id, case_id)
            ack()

        return handler

    app.view(cards.EDIT_DRAFT_CALLBACK)(edit_submitted("draft"))
    app.view(cards.EDIT_DELAY_CALLBACK)(edit_submitted("delay"))
    app.view(cards.REASSIGN_CALLBACK)(edit_submitted("reassign"))

    @app.action(cards.START_ACTION)
    def start_clicked(
        ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond
    ) -> None:
        ack()
        team_id = _team(body)
        case_text, _, expected = (action.get("value") or "").partition(":")
        try:
            case = plan_edits.start(
                rt.engine,
                team_id,
                int(case_text or 0),
                _user(body),
                _admins(rt),
                expected or "planned",
                settings=rt.settings,
            )
        except plan_edits.PlanEditError as exc:
            respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        rt.submit(flows.refresh_card, rt, SlackNotifier(client), team_id, case.id or 0)


def _parse_step_value(value: str) -> tuple[int, int, str]:
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise plan_edits.PlanEditError("That button is out of date; open the latest case card.")
    return int(parts[0]), int(parts[1]), parts[2]
