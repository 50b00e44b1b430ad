"""Block Kit builders of the step engine, checked against the stand-in's validator."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.cases import blocks as m
from bot.devtools.standin.blockkit import validate_message_blocks, validate_view

AT = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def view(**kw: object) -> m.StepView:
    base = dict(
        case_id=42,
        step_id=7,
        position=2,
        total=5,
        account="Acme <Corp> & Co",
        risk="Usage drop",
        why="WAU fell 40%" * 200,
        summary="Email the buyer",
        medium="email",
        recipient="Lee Park",
        recipient_ref="lee@acme.com",
        assignee="U0MAYA",
        owner="U0MAYA",
        draft="Hi Lee,\n\nx" * 2000,
        status="awaiting",
    )
    base.update(kw)
    return m.StepView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("medium", ["slack", "email", "call", "meeting", "internal"])
def test_step_dm_and_settled_are_valid(medium: str) -> None:
    v = view(medium=medium, recipient_ref="C0CSRISK" if medium == "slack" else "lee@acme.com")
    text, blocks = m.step_dm(v)
    assert validate_message_blocks(blocks) == [] and len(text) <= 3000
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [m.YES, m.EDIT, m.NO]
    values = {e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert values == {"7:awaiting"}
    _, reminder = m.step_dm(v, reminder=True)
    assert "Reminder" in reminder[0]["text"]["text"]
    headline = m.decided_headline("edit", "U0MAYA", AT, delivered_to="<#C0CSRISK>")
    _, settled = m.step_settled(v, headline, m.email_ready_blocks("lee@acme.com", "Hi", v.draft))
    assert validate_message_blocks(settled) == []
    assert not [b for b in settled if b["type"] == "actions"]
    assert validate_view(m.edit_modal(v)) == [] and validate_view(m.no_modal(v)) == []


def test_user_text_is_escaped() -> None:
    _, blocks = m.step_dm(view(draft="<!channel> ping"))
    assert "<!channel>" not in str(blocks) and "&lt;!channel&gt;" in str(blocks)


def test_mailto_link_carries_subject_and_body() -> None:
    link = m.mailto_link("lee@acme.com", "Quick call?", "Hi Lee & team")
    assert link.startswith("mailto:lee@acme.com?subject=Quick%20call%3F")
    assert "Hi%20Lee%20%26%20team" in link


def test_questions_escalation_and_cards_are_valid() -> None:
    for _, blocks in (
        m.resolution_question(42, 2, "Acme"),
        m.resolution_answered("Acme", "not_yet", "U0MAYA", AT, "Step 3 next"),
        m.close_or_extend(42, "Acme", "U0MAYA", [("exec_sponsor", "Exec sponsor")]),
        m.escalation(view(), 48, "U0OMAR"),
    ):
        assert validate_message_blocks(blocks) == []
    steps = [
        m.StepLine(i, f"Step {i}", "slack", "U0MAYA", s, AT)
        for i, s in enumerate(["done", "skipped", "awaiting", "scheduled"] * 10, 1)
    ]
    card = m.CaseCard(
        42,
        "Acme",
        "Usage drop",
        "running",
        "open",
        "U0MAYA",
        "why",
        3,
        40,
        steps,
        notes="2026-03-02 <@U0MAYA>: called",
        opened_at=AT,
    )
    blocks = m.case_card(card)
    assert validate_message_blocks(blocks) == []
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert m.CASE_PAUSE in ids and m.CASE_REASSIGN in ids
    paused = m.case_card(m.CaseCard(**{**card.__dict__, "status": "paused"}))
    assert m.CASE_RESUME in str(paused)
    closed = m.case_card(
        m.CaseCard(
            **{**card.__dict__, "status": "resolved", "outcome": "saved", "resolution_step": 3}
        )
    )
    assert not [b for b in closed if b["type"] == "actions"] and "saved at step 3" in str(closed)
    assert validate_message_blocks(m.case_list([card] * 60)) == []
    assert validate_view(m.note_modal(42, "Acme")) == []
