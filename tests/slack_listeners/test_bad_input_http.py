"""The inputs of the old 500s, over real HTTP (waitress, the web edge, Bolt's WSGI adapter):
200 with an answer, nothing changed, no traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlmodel import select

from bot.cases import blocks as msgs
from bot.models import AuditEvent, CaseStep


def _audit(world: Any) -> list[int]:
    with world.session() as s:
        return list(s.exec(select(AuditEvent.id)))


def test_the_old_500s_over_http(
    slack_http: Any, start_a_case: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = slack_http
    case_id = start_a_case(world)
    before = _audit(world)

    resp = world.driver.command("/case", "99999999999999999999", user_id="U0MAYA")
    assert resp.status == 200 and "Use `/case list`" in world.standin.answer(resp)
    resp = world.driver.command("/commitments", '"\x00x"', user_id="U0MAYA")
    assert resp.status == 200 and "No account matches" in world.standin.answer(resp)

    dm = world.standin.wait_message("U0MAYA", lambda m: m["text"].startswith("Step 1"))
    for forged in ("١:awaiting", "²:awaiting", "2147483648:awaiting"):
        seen = {e["message_ts"] for e in world.standin.ephemerals(user="U0MAYA")}
        resp = world.driver.block_action(msgs.YES, forged, user_id="U0MAYA", message=dm)
        assert resp.status == 200
        world.standin.wait_until(
            lambda seen=seen: any(  # type: ignore[misc]
                "not recognised any more" in e["text"] and e["message_ts"] not in seen
                for e in world.standin.ephemerals(user="U0MAYA")
            ),
            what=f"the answer to {forged!r}",
        )
    with world.session() as s:
        step = s.exec(
            select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.position == 1)
        ).one()
    assert step.status == "awaiting" and _audit(world) == before
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()
