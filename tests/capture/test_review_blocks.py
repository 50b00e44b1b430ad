"""Pure Block Kit of the review, checked against the stand-in's validator."""

from __future__ import annotations

import datetime as dt

from bot.capture import blocks as rb
from bot.devtools.standin.blockkit import validate_message_blocks, validate_view


def _item(n: int, **kw) -> rb.ReviewItem:  # type: ignore[no-untyped-def]
    base = dict(
        id=100 + n,
        number=n,
        text=f"Send the <b>guide</b> #{n} & more",
        status="proposed",
        owner_name="Maya Chen",
        owner_user_id="U0MAYA",
        side="ours",
        due=dt.date(2026, 11, 27),
        due_phrase="by Friday",
        category="integration",
        evidence="I'll send you the guide by Friday." * 30,
        confidence=0.8,
    )
    base.update(kw)
    return rb.ReviewItem(**base)  # type: ignore[arg-type]


def _review(n: int, **kw) -> rb.Review:  # type: ignore[no-untyped-def]
    return rb.Review(
        transcript_id=7,
        filename="call-2026-11-20.vtt",
        call_date=dt.date(2026, 11, 20),
        account_id=3,
        account_name="Acme <Corp>",
        speakers=("Maya Chen", "Dana Ruiz"),
        word_count=5100,
        items=tuple(_item(i) for i in range(1, n + 1)),
        **kw,
    )


def test_many_commitments_split_into_valid_thread_messages() -> None:
    review = _review(
        37, fallback_reason="the LLM server did not answer within 60 s", skipped_cues=2
    )
    messages = rb.review_messages(review)
    assert len(messages) == 4
    seen = []
    for text, blocks in messages:
        assert text and len(blocks) <= 50
        assert validate_message_blocks(blocks) == []
        seen += [b["block_id"] for b in blocks if b.get("block_id", "").startswith("ftcap:")]
    assert len(seen) == 37 and len(set(seen)) == 37  # every commitment exactly once
    head = str(messages[0][1])
    assert "Confirm all (37)" in head and "LLM step failed" in head and "broken timestamps" in head
    assert "&lt;b&gt;" in str(messages[1][1])  # transcript text never becomes markup
    assert rb.part_of(review, 100 + 25) == 2


def test_decided_items_show_who_and_lose_their_buttons() -> None:
    items = (
        _item(1, status="open", last_actor="U0LI"),
        _item(2, status="dismissed", last_actor="U0MAYA", edited_by="U0ANA"),
        _item(3, owner_user_id=None, side="unknown", owner_name="Li W."),
        _item(4, owner_user_id=None, side="customer", owner_name="Dana Ruiz"),
    )
    review = rb.Review(7, "x.vtt", None, items=items)
    [(_, blocks)] = rb.review_messages(review)
    assert validate_message_blocks(blocks) == []
    flat = str(blocks)
    assert "Confirmed by <@U0LI>" in flat and "Dismissed by <@U0MAYA>" in flat
    assert "Edited by <@U0ANA>" in flat and "~" in flat
    controls = {
        b["block_id"]: [e["action_id"] for e in b["elements"]]
        for b in blocks
        if b["type"] == "actions"
    }
    assert controls["ftcap:101:open"] == [rb.A_DONE, rb.A_EDIT]
    assert "ftcap:102:dismissed" not in controls
    assert rb.A_OWNER in controls["ftcap:103:proposed"]
    assert rb.A_OWNER not in controls["ftcap:104:proposed"]
    assert "Dana Ruiz (customer)" in flat and "Confirm all (2)" in flat


def test_refs_round_trip() -> None:
    item = _item(1)
    assert rb.parse_item_ref(f"{rb.ITEM_BLOCK}:{item.ref}") == (101, "proposed")
    assert rb.parse_item_ref("ftcap:x:y", "12:open") == (12, "open")
    assert rb.parse_item_ref("nonsense") is None
    assert rb.parse_transcript_ref("ftcapacct:42") == 42 and rb.parse_transcript_ref("x") is None


def test_edit_modal_and_small_answers_are_valid() -> None:
    modal = rb.edit_modal(_item(1, category="weird"), "C1", "1.2")
    assert validate_view(modal) == []
    assert modal["blocks"][0]["element"]["initial_value"].startswith("Send the")
    for text, blocks in (
        rb.failure_message("a.vtt", "This file is empty."),
        rb.duplicate_message("b.vtt", "a.vtt", dt.date(2026, 11, 20), "https://x/archives/C1/p1"),
        rb.nothing_found(_review(0, fallback_reason="timeout")),
    ):
        assert text and validate_message_blocks(blocks) == []
    many = [
        [{"type": "section", "text": {"type": "mrkdwn", "text": f"item {i}"}}] * 2
        for i in range(40)
    ]
    text, blocks = rb.list_message("Your open commitments", many, 40, "none")
    assert len(blocks) <= 50 and "more" in str(blocks[-1])
    assert rb.list_message("t", [], 0, "Nothing open.")[0] == "Nothing open."


def test_hedged_commitment_is_shown_as_tentative() -> None:
    hedged = rb.item_blocks(_item(1, confidence=0.4))
    firm = rb.item_blocks(_item(2))

    assert "tentative" in str(hedged[0]) and "tentative" not in str(firm[0])
    assert validate_message_blocks(hedged) == []
    decided = rb.item_blocks(_item(3, confidence=0.4, status="open", last_actor="U0MAYA"))
    assert "tentative" not in str(decided[0])  # once confirmed it is a commitment like any


def test_cross_turn_evidence_names_both_speakers_once() -> None:
    blocks = rb.item_blocks(
        _item(1, evidence="Kevin Tran: Can you add me to the alerts? — Maya Chen: Yep.")
    )
    assert str(blocks[1]).count("Maya Chen") == 1
