"""A failure after the ack (Slack refusing the modal we open) through signed requests: the
click still gets its 200 at once, the person is told what happened and what to do, the log
has one ERROR line naming the request — and no traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.cases import blocks as msgs


def test_slack_refusing_the_modal_is_told_not_a_silent_404(
    forge: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = forge.world
    world.standin.fail("views.open", "internal_error")
    try:
        resp = forge.click(msgs.EDIT, value="1:awaiting", block_id="step:1")
        assert resp.status == 200
        told = world.standin.wait_until(
            lambda: next(
                (
                    e
                    for e in world.standin.ephemerals(user="U0MAYA")
                    if "Slack answered `internal_error`" in e["text"]
                ),
                None,
            ),
            what="the person told about Slack's refusal",
        )
    finally:
        world.standin.clear_faults()
    assert "Nothing was saved half-way" in told["text"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")]
    assert [r.getMessage().split(" failed:")[0] for r in errors] == ["block_actions step_edit"]
    assert (
        "SlackApiError" in errors[0].getMessage()
        and "team T0TEST, user U0MAYA" in errors[0].getMessage()
    )
    assert all(r.exc_info is None and "Traceback" not in r.getMessage() for r in caplog.records)
