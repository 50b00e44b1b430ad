"""/report-risk, the "Report a risk" shortcut, the report modal and the plan card's controls.

Thin: parse the payload, call one service in `bot.cases`, render with `bot.cases.plan_blocks`.
Everything slow (drafting, posting cards) leaves the request through `rt.submit`.
"""

from __future__ import annotations

from bot.cases import attachment, flows, plan_edits, report_form
from bot.cases import plan_blocks as cards
from bot.cases import report as planning
from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput, clean_text, parse_id, parse_ref, parse_user

routes = Routes(plan_edits.PlanEditError)
SHORTCUT = "report_risk"
STALE_CARD = "That button is out of date; open the latest case card."
OPS = ("draft", "delay", "reassign", "drop")
EDIT_VIEWS = {
    cards.EDIT_DRAFT_CALLBACK: "draft",
    cards.EDIT_DELAY_CALLBACK: "delay",
    cards.REASSIGN_CALLBACK: "reassign",
}


def _open_report_modal(call: Call, text: str, channel_id: str | None) -> str | None:
    form = report_form.report_form(call.rt.engine, call.team_id, text)
    call.open_view(cards.report_modal(form.risks, account=form.account, channel_id=channel_id))
    return form.note


@routes.command("/report-risk")
def on_report_command(call: Call) -> None:
    """The modal first, then the ack (with the note, if the typed account was not found):
    Slack hears back when the modal is on its way, so a burst of commands cannot queue
    modal work behind acks until their triggers (3 s) run out."""
    i = call.interaction
    note = _open_report_modal(call, clean_text(i.text, 200), i.channel_id or None)
    if note:
        call.ack(text=note)
    else:
        call.ack()


@routes.shortcut(SHORTCUT)
def on_report_shortcut(call: Call) -> None:
    _open_report_modal(call, "", None)


@routes.view(cards.REPORT_CALLBACK, error_block=cards.CONTEXT_BLOCK)
def on_report_submitted(call: Call) -> None:
    view = call.view
    try:
        account_id: int | None = parse_id(view.value(cards.ACCOUNT_BLOCK))
    except BadInput:
        account_id = None  # form_errors asks for the account
    request = planning.ReportRequest(
        team_id=call.team_id,
        risk_key=clean_text(view.element(cards.RISK_BLOCK).selected_option, 100),
        context=view.text(cards.CONTEXT_BLOCK, cards.CONTEXT_INPUT_MAX),
        links=view.text(cards.LINKS_BLOCK, 2000) or None,
        reporter_user_id=call.user_id,
        account_id=account_id,
    )
    errors = report_form.form_errors(call.rt.engine, request)
    if errors:
        call.ack(response_action="errors", errors=errors)
        return
    attached = attachment.file_ref(view.element(cards.TRANSCRIPT_BLOCK).files)
    # queued before the ack (instant) so a worker already holds it when Slack hears back
    call.rt.submit(flows.make_case, call.rt, call.notifier, request, attached)
    call.ack()


def parse_step_value(value: str | None) -> tuple[int, int, str]:
    """`<case id>:<position>:<op>` from a step's ⋯ menu."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 3 or parts[2] not in OPS:
        raise BadInput(STALE_CARD)
    return parse_id(parts[0], STALE_CARD), parse_id(parts[1], STALE_CARD), parts[2]


@routes.action(cards.STEP_MENU)
def on_step_menu(call: Call) -> None:
    action = call.interaction.action
    case_id, position, op = parse_step_value(action.selected_option if action else None)
    rt, admins = call.rt, list(call.rt.settings.cs_admins)
    if op == "drop":
        plan_edits.apply_edit(
            rt.engine, call.team_id, case_id, position, "drop", None, call.user_id, admins
        )
        rt.submit(flows.refresh_card, rt, call.notifier, call.team_id, case_id)
        return
    step = plan_edits.step_for_edit(
        rt.engine, call.team_id, case_id, position, call.user_id, admins
    )
    builder = {
        "draft": cards.edit_draft_modal,
        "delay": cards.delay_modal,
        "reassign": cards.reassign_modal,
    }[op]
    call.open_view(builder(case_id, step))


@routes.view(cards.EDIT_DRAFT_CALLBACK, error_block=cards.VALUE_BLOCK)
@routes.view(cards.EDIT_DELAY_CALLBACK, error_block=cards.VALUE_BLOCK)
@routes.view(cards.REASSIGN_CALLBACK, error_block=cards.VALUE_BLOCK)
def on_edit_submitted(call: Call) -> None:
    view = call.view
    op = EDIT_VIEWS[view.callback_id]
    meta = view.metadata()
    case_id, position = parse_id(meta.get("case")), parse_id(meta.get("position"))
    state = view.element(cards.VALUE_BLOCK)
    if op == "reassign":
        value = parse_user(state.selected_user, "Pick the person who should do this step.")
    else:
        value = clean_text(state.value, 3000)
    rt = call.rt
    plan_edits.apply_edit(
        rt.engine,
        call.team_id,
        case_id,
        position,
        op,
        value,
        call.user_id,
        list(rt.settings.cs_admins),
    )
    if op == "reassign":  # the draft names its assignee: write it again for them
        rt.submit(
            flows.redraft_and_refresh,
            rt,
            call.notifier,
            call.team_id,
            case_id,
            position,
            call.user_id,
        )
    else:
        rt.submit(flows.refresh_card, rt, call.notifier, call.team_id, case_id)
    call.ack()


@routes.action(cards.START_ACTION)
def on_start(call: Call) -> None:
    case_id, expected = parse_ref(call.interaction.value, STALE_CARD)
    case = plan_edits.start(
        call.rt.engine,
        call.team_id,
        case_id,
        call.user_id,
        list(call.rt.settings.cs_admins),
        expected or "planned",
        settings=call.rt.settings,
    )
    call.rt.submit(flows.refresh_card, call.rt, call.notifier, call.team_id, case.id or 0)
