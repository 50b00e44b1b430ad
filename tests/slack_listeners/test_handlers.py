"""Listeners one at a time: module-level handlers called with a `Call` built here (no Bolt
dispatch), and the wrapper that answers every way a handler can end."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt import Ack
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlmodel import select

from bot.cases.records import CaseError
from bot.models import CaseStep, Commitment
from bot.slack.listeners import LISTENER_MODULES, capture, cases, digest, playbooks_admin, steps
from bot.slack.listeners.base import SORRY, Call, Route, Routes, run
from bot.slack.payload import BadInput, Interaction

MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def form(values: dict[str, Any], **view: Any) -> dict[str, Any]:
    """A view_submission of a modal whose inputs hold `values` (block id → element state)."""
    state = {block: {block: element} for block, element in values.items()}
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST"},
        "user": {"id": "U0MAYA"},
        "view": {"type": "modal", "callback_id": "x", **view, "state": {"values": state}},
    }


class Said:
    """Stands in for Bolt's `respond`: what the handler said through the response_url."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, **kw: Any) -> None:
        if self.fail:
            raise ConnectionError("response_url unreachable")
        self.calls.append(kw)

    @property
    def texts(self) -> list[str]:
        return [str(c.get("text")) for c in self.calls]


def make_call(world: Any, body: dict[str, Any], said: Said | None = None) -> Call:
    return Call(Interaction.parse(body), world.rt, Ack(), world.client, said)


def click(action_id: str, *, value: str | None = None, block_id: str = "b", **more: Any) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": "T0TEST"},
        "user": {"id": "U0MAYA", "team_id": "T0TEST"},
        "trigger_id": "t",
        "response_url": "http://127.0.0.1:9/response",
        "container": more.pop("container", {"type": "message", "channel_id": "C0CSRISK"}),
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, **more}],
    }


def command(name: str, text: str) -> dict[str, Any]:
    return {
        "command": name,
        "text": text,
        "team_id": "T0TEST",
        "user_id": "U0MAYA",
        "channel_id": "C0CSRISK",
        "trigger_id": "t",
        "response_url": "http://127.0.0.1:9/response",
    }


def body_of(call: Call) -> Any:
    assert call.ack.response is not None
    body = call.ack.response.body
    return json.loads(body) if isinstance(body, str) and body.startswith("{") else body


def awaiting_step(world: Any, case_id: int) -> int:
    with world.session() as s:
        step = s.exec(
            select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.position == 1)
        ).one()
    assert step.status == "awaiting"
    return step.id or 0


# --- the shape -----------------------------------------------------------------------------


def test_every_listener_is_a_module_level_function() -> None:
    names = [*LISTENER_MODULES, "bot.slack.listeners.fallback"]
    for name in names:
        module = importlib.import_module(name)
        assert isinstance(module.routes, Routes), name
        for route in module.routes.routes:
            handler = route.handler
            assert getattr(module, handler.__name__) is handler, f"{name}.{handler.__name__}"


def test_no_two_modules_answer_the_same_request() -> None:
    """`LISTENER_MODULES` is ordered for speed (hot routes first), so the order must decide
    nothing: a request one module's route matches is matched by no other module's route."""
    owner: dict[tuple[str, str], str] = {}
    for name in LISTENER_MODULES:
        for route in importlib.import_module(name).routes.routes:
            constraint = route.constraints
            assert isinstance(constraint, str | dict), f"{name}: a pattern could overlap"
            if isinstance(constraint, dict):  # an event subtype, a block id: same id overlaps
                constraint = next(
                    constraint[k] for k in ("type", "action_id", "callback_id") if k in constraint
                )
            key = (route.method, constraint)
            assert owner.setdefault(key, name) == name, f"{key} in {owner[key]} and {name}"


# --- handlers alone ------------------------------------------------------------------------


def test_yes_with_a_forged_id_is_refused_and_the_step_still_awaits(
    slack: Any, start_a_case: Any
) -> None:
    step_id = awaiting_step(slack, start_a_case(slack))
    for forged in ("١:awaiting", "²:awaiting", f"{step_id}\x00:awaiting", "2147483648:awaiting"):
        with pytest.raises(BadInput, match="not recognised"):
            steps.on_yes(make_call(slack, click("step_yes", value=forged), Said()))
    with slack.session() as s:
        assert s.get(CaseStep, step_id).status == "awaiting"  # type: ignore[union-attr]


def test_yes_decides_the_step(slack: Any, start_a_case: Any) -> None:
    step_id = awaiting_step(slack, start_a_case(slack))
    said = Said()
    steps.on_yes(make_call(slack, click("step_yes", value=f"{step_id}:awaiting"), said))
    with slack.session() as s:
        step = s.get(CaseStep, step_id)
    assert step is not None and (step.decision, step.decided_by) == ("yes", "U0MAYA")
    with pytest.raises(CaseError, match="already decided"):  # the second click
        steps.on_yes(make_call(slack, click("step_yes", value=f"{step_id}:awaiting"), said))


def test_case_command(slack: Any, start_a_case: Any) -> None:
    case_id = start_a_case(slack)
    for text in ("99999999999999999999", "١", "#x", "-1"):
        with pytest.raises(BadInput, match="Use `/case list`"):
            cases.on_case_command(make_call(slack, command("/case", text)))
    listed = make_call(slack, command("/case", "list"))
    cases.on_case_command(listed)
    assert f"#{case_id}" in json.dumps(body_of(listed))
    card = make_call(slack, command("/case", f"#{case_id}"))
    cases.on_case_command(card)
    assert body_of(card)["text"] == f"Case #{case_id}: Acme Corp"


def test_a_row_of_the_commitments_list_is_shown_again(slack: Any) -> None:
    slack.tick(MON_9AM_NY)
    with slack.session() as s:
        c = Commitment(team_id="T0TEST", owner_user_id="U0MAYA", text="Send it", status="open")
        s.add(c)
        s.flush()
        cid = c.id
    said = Said()
    body = click(
        "ft_item_done",
        value=f"c:{cid}:open",
        block_id=f"ftlist:U0MAYA:c:{cid}:open",
        container={"type": "message", "channel_id": "C0CSRISK", "is_ephemeral": True},
    )
    digest.on_item(make_call(slack, body, said))
    [shown] = said.calls
    assert shown["replace_original"] is True
    assert shown["blocks"][0]["elements"][0]["text"] == ":white_check_mark: Done: *Send it*"
    assert "no open commitments" in json.dumps(shown["blocks"])


def test_review_edit_refuses_a_date_that_does_not_exist(slack: Any) -> None:
    body = form(
        {
            "text": {"type": "plain_text_input", "value": "Send it"},
            "due": {"type": "datepicker", "selected_date": "2026-02-31"},
        },
        callback_id="cap_edit_modal",
        private_metadata=json.dumps({"c": 1}),
    )
    with pytest.raises(BadInput) as caught:
        capture.on_edit_saved(make_call(slack, body))
    assert caught.value.block_id == "due"


def test_playbooks_says_what_it_does_not_know(slack: Any) -> None:
    said = Said()
    playbooks_admin.on_playbooks_command(
        make_call(slack, command("/playbooks", "frobnicate"), said)
    )
    assert "I don't know `frobnicate`" in said.texts[0]


# --- the wrapper -------------------------------------------------------------------------------


def route(handler: Callable[[Call], None], **kw: Any) -> Route:
    return Route("action", "x", handler, kw.pop("refusals", ()), **kw)


def _boom(call: Call) -> None:
    call.ack()
    raise RuntimeError("the transcript said: Dana is leaving")


def test_a_failure_after_ack_is_one_error_line_and_a_message(
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.slack.listeners.base")
    said = Said()
    call = make_call(slack, click("step_yes", value="1:awaiting"), said)
    run(route(_boom), call)
    assert said.texts == [SORRY]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    line = errors[0].getMessage()
    assert "block_actions step_yes failed: RuntimeError at test_handlers.py:_boom" in line
    assert "team T0TEST, user U0MAYA" in line and "Dana" not in line
    [debug] = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert debug.exc_info is not None and debug.exc_info[0] is RuntimeError


def test_a_failure_before_the_ack_of_a_command_is_its_answer(slack: Any) -> None:
    call = make_call(slack, command("/case", "1"))

    def fails(call: Call) -> None:
        raise KeyError("x")

    run(route(fails), call)
    assert body_of(call) == SORRY  # Bolt sends a text-only ack as text/plain


def test_a_failing_form_keeps_its_input_and_says_so(slack: Any) -> None:
    body = form({"note": {"type": "plain_text_input", "value": "hi"}})

    def fails(call: Call) -> None:
        raise ValueError("nope")

    call = make_call(slack, body)
    run(route(fails), call)
    assert body_of(call) == {"response_action": "errors", "errors": {"note": SORRY}}

    def refuses(call: Call) -> None:
        raise BadInput("Say more.", block_id="note")

    call = make_call(slack, body)
    run(route(refuses), call)
    assert body_of(call) == {"response_action": "errors", "errors": {"note": "Say more."}}


def test_a_domain_refusal_is_told(slack: Any) -> None:
    class Refused(ValueError):
        pass

    def refuses(call: Call) -> None:
        raise Refused("Only Maya can do that.")

    said = Said()
    run(route(refuses, refusals=(Refused,)), make_call(slack, click("x"), said))
    assert said.texts == ["Only Maya can do that."]
    assert said.calls[0]["replace_original"] is False


def test_slack_failing_is_named_and_telling_may_fail_too(
    slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    def slack_says_no(call: Call) -> None:
        resp = SlackResponse(
            client=None,
            http_verb="POST",
            api_url="views.open",
            req_args={},
            data={"ok": False, "error": "invalid_trigger_id"},
            headers={},
            status_code=200,
        )
        raise SlackApiError("views.open failed", resp)

    said = Said()
    run(route(slack_says_no), make_call(slack, click("x"), said))
    assert "Slack answered `invalid_trigger_id`" in said.texts[0]
    run(route(slack_says_no), make_call(slack, click("x"), Said(fail=True)))  # nothing escapes
    assert any("could not tell U0MAYA" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)


def test_a_handler_that_forgets_to_ack_is_acked(slack: Any) -> None:
    call = make_call(slack, command("/case", "1"))
    run(route(lambda call: None), call)
    assert call.acked
