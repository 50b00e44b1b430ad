"""A long call over real HTTP: the review is split into several thread messages (Slack's
50-block limit), and Confirm all in the first updates every part."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.capture import blocks as rb
from bot.devtools.fake_openai import FakeOpenAIServer
from bot.devtools.standin.blockkit import validate_message_blocks

THINGS = [
    "the SSO guide",
    "the renewal quote",
    "the QBR deck",
    "the API docs",
    "the security questionnaire",
    "the training plan",
    "the pricing sheet",
    "the export fix",
    "the roadmap",
    "the onboarding checklist",
    "the SCIM notes",
    "the usage report",
    "the migration runbook",
    "the invoice",
    "the contract redline",
    "the data processing agreement",
    "the sandbox credentials",
    "the webhook samples",
    "the audit log export",
    "the SLA summary",
    "the admin guide",
    "the release notes",
    "the survey results",
    "the case study",
    "the integration spec",
]


def _call() -> tuple[bytes, str]:
    cues, items = ["WEBVTT", ""], []
    for n, thing in enumerate(THINGS):
        said = f"I will send you {thing} by Friday."
        cues += [
            f"00:{n:02d}:01.000 --> 00:{n:02d}:04.000",
            f"<v Maya Chen>{said}",
            "",
            f"00:{n:02d}:05.000 --> 00:{n:02d}:07.000",
            "<v Dana Ruiz>Thanks.",
            "",
        ]
        items.append(
            {
                "owner": "Maya Chen",
                "side": "ours",
                "text": f"Send Dana {thing}",
                "due": "2026-11-27",
                "due_phrase": "by Friday",
                "category": "follow_up",
                "evidence": said,
                "confidence": 0.9,
                "utterance_index": 2 * n,
            }
        )
    return "\n".join(cues).encode(), json.dumps({"commitments": items})


@pytest.fixture
def world(database_url: str) -> Iterator[object]:
    from bot.devtools.world import World

    with FakeOpenAIServer() as llm:
        _, answer = _call()
        llm.script([answer])
        w = World(
            database_url,
            http=True,
            llm_engine="openai",
            openai_base_url=llm.base_url,
            openai_api_key="test",
            llm_timeout_seconds=30,  # not what this test is about: never trip it on a busy machine
        ).start()
        yield w
        w.stop()


def test_long_review_is_split_and_confirm_all_updates_every_part(world, make_capture) -> None:  # type: ignore[no-untyped-def]
    cap = make_capture(world)
    data, _ = _call()
    up = cap.upload("call-2026-11-20.vtt", data)
    cap.review(up)
    cap.idle()  # the background job posted every part of the review
    rows = cap.commitments()
    assert len(rows) == 25
    parts = sorted({c.review_ts for c in rows})
    assert len(parts) == 3  # 10 + 10 + 5
    messages = [cap.message(up.channel, ts) for ts in parts]
    for m in messages:
        assert len(m["blocks"]) <= 50 and validate_message_blocks(m["blocks"]) == []
    r = world.driver.block_action(rb.A_CONFIRM_ALL, user_id="U0MAYA", message=messages[0])
    assert r.status == 200
    for ts in parts:
        cap.wait_review(up.channel, ts, lambda b: "Confirmed by" in b, f"part {ts} confirmed")
    assert all(c.status == "open" for c in cap.commitments())
    for ts in parts:
        assert "Confirmed by <@U0MAYA>" in str(cap.message(up.channel, ts)["blocks"])
