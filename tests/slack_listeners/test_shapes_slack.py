"""Signed bodies with the wrong JSON types: a body no Slack request has is refused with 400
before any listener runs (Bolt's own matchers would raise on it: a 500); a well-formed body
whose value is useless (`value: null`, private_metadata that is not JSON) gets 200 and an
answer. Over Bolt's dispatch and over real HTTP; nothing changes, no traceback is logged."""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

import pytest

from bot.cases import blocks as msgs
from bot.cases import plan_blocks as cards
from bot.devtools.standin.driver import FORM, JSON
from bot.devtools.standin.payloads import interaction_form

USER = {"id": "U0MAYA", "team_id": "T0TEST"}
TEAM = {"id": "T0TEST"}


def _actions(actions: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "block_actions", "team": TEAM, "user": USER, "actions": actions, **extra}


SHAPES: dict[str, dict[str, Any]] = {
    "actions [{}]": _actions([{}]),
    "actions a string": _actions("step_yes"),
    "action_id a number": _actions([{"action_id": 5}]),
    "value a number": _actions([{"action_id": msgs.YES, "value": 5}]),
    "selected_option a string": _actions([{"action_id": cards.STEP_MENU, "selected_option": "1"}]),
    "user id with NUL": _actions(
        [{"action_id": msgs.YES, "value": "1:awaiting"}], user={"id": "U0MAYA\x00"}
    ),
    "team id with NUL": _actions(
        [{"action_id": msgs.YES, "value": "1:awaiting"}], team={"id": "T0TEST\x00"}
    ),
    "view a string": {"type": "view_submission", "team": TEAM, "user": USER, "view": "V1"},
    "view state values a list": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"type": "modal", "callback_id": msgs.NOTE_VIEW, "state": {"values": []}},
    },
    "view without type": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "view": {"callback_id": msgs.NOTE_VIEW, "state": {"values": {}}},
    },
    "actions []": _actions([]),
    "shortcut without callback_id": {"type": "shortcut", "team": TEAM, "user": USER},
}


def _fingerprint(world: Any) -> Any:
    from sqlmodel import select

    from bot.models import AuditEvent, Case, CaseStep

    with world.session() as s:
        return (
            s.exec(select(AuditEvent.id)).all(),
            s.exec(select(Case.id, Case.status)).all(),
            s.exec(select(CaseStep.id, CaseStep.status)).all(),
        )


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


def _refused(world: Any, caplog: pytest.LogCaptureFixture) -> list[int]:
    statuses = []
    for payload in SHAPES.values():
        before = (_fingerprint(world), len(world.standin.ephemerals()))
        statuses.append(world.driver.post(interaction_form(payload), FORM).status)
        assert (_fingerprint(world), len(world.standin.ephemerals())) == before
    # a command and an event whose user id carries a NUL
    command = urllib.parse.urlencode(
        {"command": "/case", "text": "list", "team_id": "T0TEST", "user_id": "U0MAYA\x00"}
    ).encode()
    statuses.append(world.driver.post(command, FORM).status)
    for n, event in enumerate(
        [
            {"type": "app_mention", "user": "U0MAYA\x00", "channel": "C0CSRISK", "ts": "1.2"},
            {"type": "app_home_opened", "user": "U0MAYA", "channel": "D\x00"},
            "type: app_mention",  # a string where the event object goes
            {"type": 5},
        ]
    ):
        envelope = {"type": "event_callback", "team_id": "T0TEST", "event_id": f"Ev0BAD{n}"}
        envelope["event"] = event
        statuses.append(world.driver.post(json.dumps(envelope).encode(), JSON).status)
    _no_traceback(caplog)
    return statuses


def test_bodies_no_slack_request_has_are_400(
    bad_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert set(_refused(bad_world[0], caplog)) == {400}


def test_over_http_too(slack_http: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert set(_refused(slack_http, caplog)) == {400}


def test_a_button_without_value_is_answered(forge: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    world = forge.world
    before = _fingerprint(world)
    resp = forge.click(msgs.YES, value=None, block_id="step:1")
    assert resp.status == 200
    world.standin.wait_until(
        lambda: any(
            "not recognised any more" in e["text"] for e in world.standin.ephemerals(user="U0MAYA")
        ),
        what="the answer to a button without value",
    )
    assert _fingerprint(world) == before
    _no_traceback(caplog)


@pytest.mark.parametrize("meta", ["{not json", "[1, 2]", '"1"', "null", "{", "\x00"])
def test_private_metadata_that_is_not_a_json_object_shows_in_the_form(
    forge: Any, meta: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = forge.world
    with world.session() as s:
        from bot.models import CaseStep

        step = s.get(CaseStep, 1)
    assert step is not None
    before = _fingerprint(world)
    resp = forge.submit(
        cards.edit_draft_modal(1, step), {cards.VALUE_BLOCK: "New"}, private_metadata=meta
    )
    assert resp.status == 200
    assert resp.json["response_action"] == "errors"
    assert "out of date" in resp.json["errors"][cards.VALUE_BLOCK]
    assert _fingerprint(world) == before
    _no_traceback(caplog)
