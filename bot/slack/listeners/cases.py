"""`/case list`, `/case 42` and the case card's controls (pause, resume, skip ahead, note,
reassign, resolve, churn, extend with another playbook). Thin: parse, call bot.cases.control
(or planning for an extension), render the card again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlmodel import Session

from bot.cases import control, decisions
from bot.cases import extend as planning
from bot.cases import step_messages as msgs
from bot.cases.drafting import drafter_for
from bot.cases.records import CaseError, Outbox
from bot.cases.steps import StateError
from bot.db import session_scope
from bot.runtime import Runtime
from bot.slack.listeners.steps import field, team_of, tell, user_of
from bot.slack.outbound import SlackNotifier

USAGE = "Use `/case list` for open cases or `/case 42` for one case."


def register(app: App, rt: Runtime) -> None:
    @app.command("/case")
    def case_command(ack: Ack, command: dict) -> None:
        team_id, words = command.get("team_id", ""), (command.get("text") or "").split()
        arg = words[0].lstrip("#") if words else "list"
        with session_scope(rt.engine) as s:
            if arg.lower() == "list":
                blocks = msgs.case_list(control.open_cases(s, team_id))
                ack(text="Open cases", blocks=blocks)
                return
            if not arg.isdigit():
                ack(text=USAGE)
                return
            try:
                c = control.card(s, team_id, int(arg))
            except CaseError as exc:
                ack(text=str(exc))
                return
            ack(text=f"Case #{c.case_id}: {c.account}", blocks=msgs.case_card(c))

    def refresh(respond: Respond, team_id: str, case_id: int) -> None:
        with session_scope(rt.engine) as s:
            c = control.card(s, team_id, case_id)
        respond(
            text=f"Case #{c.case_id}: {c.account}", blocks=msgs.case_card(c), replace_original=True
        )

    def case_action(change: Callable[..., Outbox], **kw: Any):  # type: ignore[no-untyped-def]
        def handler(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
            ack()
            team_id, user_id = team_of(body), user_of(body)
            try:
                case_id, expected = decisions.parse_value(body["actions"][0].get("value"))
                with session_scope(rt.engine) as s:
                    outbox = change(
                        s, team_id, case_id, user_id, rt.settings, expected=expected or None, **kw
                    )
            except (CaseError, StateError) as exc:
                tell(respond, str(exc))
                return
            outbox.flush(rt, SlackNotifier(client))
            refresh(respond, team_id, case_id)

        return handler

    app.action(msgs.CASE_PAUSE)(case_action(control.pause))
    app.action(msgs.CASE_RESUME)(case_action(control.resume))
    app.action(msgs.CASE_SKIP)(case_action(control.skip_ahead))
    app.action(msgs.CASE_RESOLVE)(case_action(control.resolve, outcome="saved"))
    app.action(msgs.CASE_CHURN)(case_action(control.resolve, outcome="churned"))

    @app.action(msgs.CASE_REASSIGN)
    def reassign_current(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        action = body["actions"][0]
        _, case_id, expected = (action.get("block_id", "") + "::").split(":")[:3]
        team_id, user_id = team_of(body), user_of(body)
        try:
            if not case_id.isdigit():
                raise CaseError("That control is not recognised any more.")
            with session_scope(rt.engine) as s:
                outbox = control.reassign_current(
                    s,
                    team_id,
                    int(case_id),
                    action.get("selected_user") or "",
                    user_id,
                    rt.settings,
                    expected or None,
                )
        except (CaseError, StateError) as exc:
            tell(respond, str(exc))
            return
        outbox.flush(rt, SlackNotifier(client))
        refresh(respond, team_id, int(case_id))

    @app.action(msgs.CASE_EXTEND)
    def extend_chosen(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        team_id, user_id = team_of(body), user_of(body)
        value = (body["actions"][0].get("selected_option") or {}).get("value") or ""
        case_text, _, key = value.partition(":")
        try:
            if not case_text.isdigit() or not key:
                raise CaseError("That choice is not recognised any more.")
            with session_scope(rt.engine) as s:
                planning.check_extend(s, team_id, int(case_text), key, user_id, rt.settings)
        except (CaseError, StateError) as exc:
            tell(respond, str(exc))
            return
        rt.submit(
            extend_case, rt, SlackNotifier(client), respond, team_id, int(case_text), key, user_id
        )

    @app.action(msgs.CASE_NOTE)
    def note_clicked(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        team_id, user_id = team_of(body), user_of(body)
        try:
            case_id, _ = decisions.parse_value(body["actions"][0].get("value"))
            with session_scope(rt.engine) as s:
                view = _note_modal(s, team_id, case_id, user_id, rt)
        except (CaseError, StateError) as exc:
            tell(respond, str(exc))
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(msgs.NOTE_VIEW)
    def note_submitted(ack: Ack, body: dict, client: WebClient, view: dict) -> None:
        team_id, user_id = team_of(body), user_of(body)
        meta = view.get("private_metadata") or ""
        try:
            if not meta.isdigit():
                raise CaseError("This form is out of date.")
            with session_scope(rt.engine) as s:
                outbox = control.add_note(
                    s, team_id, int(meta), user_id, rt.settings, field(view, "note") or ""
                )
        except CaseError as exc:
            ack(response_action="errors", errors={"note": str(exc)[:150]})
            return
        ack()
        outbox.flush(rt, SlackNotifier(client))


def extend_case(
    rt: Runtime,
    notifier: SlackNotifier,
    respond: Respond,
    team_id: str,
    case_id: int,
    key: str,
    actor: str,
) -> None:
    """Background (drafting may call an LLM): add the playbook's steps, then say so in place
    of the close-or-extend question; the case card follows through the Outbox."""
    try:
        ext = planning.extend_case(
            rt.engine,
            team_id,
            case_id,
            key,
            actor,
            drafter=drafter_for(rt.settings),
            settings=rt.settings,
        )
    except CaseError as exc:
        tell(respond, str(exc))
        return
    ext.outbox.flush(rt, notifier)
    first, last = ext.steps[0].position, ext.steps[-1].position
    text, blocks = msgs.extended(
        case_id, ext.account, ext.playbook.name, actor, first, last, ext.first_due
    )
    respond(text=text, blocks=blocks, replace_original=True)


def _note_modal(s: Session, team_id: str, case_id: int, user_id: str, rt: Runtime) -> dict:
    from bot.cases.records import get_case, may_control, who_controls

    case = get_case(s, team_id, case_id)
    if not may_control(s, case, user_id, rt.settings):
        raise CaseError(who_controls(case))
    return msgs.note_modal(case_id, control.card(s, team_id, case_id).account)
