"""The openai engine against the fake server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest

from bot.devtools.fake_openai import Hang, InvalidJSON, Refusal, Status
from bot.llm.base import Category, LLMError, Side
from bot.transcripts.model import Utterance


def item(**fields: Any) -> dict[str, Any]:
    """One answer item with every schema field, overridable."""
    base: dict[str, Any] = {
        "owner": "Dana Reyes",
        "side": "ours",
        "text": "Dana sends the SSO setup guide",
        "due": "2025-03-07",
        "due_phrase": "by Friday",
        "category": "follow_up",
        "evidence": "I'll send you the SSO setup guide by Friday.",
        "confidence": 0.9,
        "utterance_index": 2,
    }
    base.update(fields)
    return base


def answer(*items: dict[str, Any]) -> str:
    return json.dumps({"commitments": list(items)})


def test_valid_answer_becomes_checked_commitments(server, make_engine, call, context, rules):
    server.script(
        [
            answer(
                item(),
                item(
                    owner="Sam Ortiz",
                    side="customer",
                    text="Sam's team finishes the Okta integration",
                    due=None,
                    due_phrase="next week",
                    category="integration",
                    evidence="we will finish the Okta integration next week",
                    utterance_index=3,
                ),
            )
        ]
    )
    result = make_engine().extract(call, context)

    assert result.engine == "openai" and result.fallback_reason is None
    first, second = result.commitments
    assert (first.owner, first.side, first.category) == (
        "Dana Reyes",
        Side.OURS,
        Category.FOLLOW_UP,
    )
    assert first.due == dt.date(2025, 3, 7) and first.utterance_index == 2
    assert (second.owner, second.side, second.category) == (
        "Sam Ortiz",
        Side.CUSTOMER,
        Category.INTEGRATION,
    )
    assert rules.calls == 0
    [request] = server.chat_requests
    assert request.model == "fake-model"
    assert request.headers["authorization"] == "Bearer test-key"
    schema = request.body["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True


def test_invented_owner_becomes_null_but_item_is_kept(server, make_engine, call, context):
    server.script([answer(item(owner="Jennifer from Legal", side="ours"))])
    [found] = make_engine().extract(call, context).commitments
    assert found.owner is None
    assert found.side == Side.OURS  # the model's claim fills the gap the owner left


def test_first_name_owner_resolves_to_the_speaker_label(server, make_engine, call, context):
    server.script([answer(item(owner="dana", side="unknown"))])
    [found] = make_engine().extract(call, context).commitments
    assert found.owner == "Dana Reyes" and found.side == Side.OURS


def test_evidence_not_in_transcript_is_dropped(server, make_engine, call, context):
    server.script(
        [
            answer(
                item(evidence="I will give you a 20% discount on renewal", category="renewal"),
                item(evidence="i'll SEND you the sso setup guide  by friday", utterance_index=0),
            )
        ]
    )
    [kept] = make_engine().extract(call, context).commitments
    assert kept.utterance_index == 2  # located where it was really said, not the model's 0


def test_bad_dates_and_categories_are_coerced(server, make_engine, call, context):
    server.script(
        [
            answer(
                item(due="next Friday", category="Follow-up"),
                item(
                    owner="Sam Ortiz",
                    text="Sam finishes Okta",
                    due="2025-02-30",
                    category="wizardry",
                    evidence="finish the Okta integration",
                    utterance_index=3,
                    confidence=7,
                ),
            )
        ]
    )
    first, second = make_engine().extract(call, context).commitments
    assert first.due is None and first.due_phrase == "by Friday"
    assert first.category == Category.FOLLOW_UP
    assert second.due is None and second.category == Category.OTHER
    assert second.confidence == 1.0


def test_invalid_json_gets_one_repair_with_the_error(server, make_engine, call, context, rules):
    server.script([InvalidJSON, answer(item())])
    result = make_engine().extract(call, context)

    assert result.engine == "openai" and len(result.commitments) == 1
    assert rules.calls == 0
    first, repair = server.chat_requests
    assert len(repair.messages) == len(first.messages) + 2
    assert repair.messages[-2]["role"] == "assistant"
    assert "not valid JSON" in repair.last_user


def test_wrong_schema_is_repaired_too(server, make_engine, call, context):
    server.script([json.dumps({"items": []}), answer(item())])
    result = make_engine().extract(call, context)
    assert len(result.commitments) == 1
    assert "commitments" in server.chat_requests[1].last_user  # the missing field is named


def test_invalid_twice_falls_back_to_rules_flagged(server, make_engine, call, context, rules):
    server.script([InvalidJSON, InvalidJSON()])
    result = make_engine().extract(call, context)

    assert result.engine == "rules"
    assert "invalid" in (result.fallback_reason or "")
    assert [c.text for c in result.commitments] == ["Dana sends the SSO guide"]
    assert rules.calls == 1 and len(server.chat_requests) == 2


def test_hung_server_times_out_and_falls_back(server, make_engine, call, context, rules):
    server.script([Hang(30)])
    result = make_engine(timeout=0.5, max_retries=0).extract(call, context)

    assert result.engine == "rules"
    assert "did not answer within 0.5 s" in (result.fallback_reason or "")
    assert rules.calls == 1


def test_server_error_is_retried_then_succeeds(server, make_engine, call, context, rules):
    server.script([Status(500, retry_after=0.01), Status(429, retry_after=0.01), answer(item())])
    result = make_engine(max_retries=2).extract(call, context)

    assert result.engine == "openai" and len(result.commitments) == 1
    assert len(server.chat_requests) == 3 and rules.calls == 0


def test_server_error_without_retries_left_falls_back(server, make_engine, call, context):
    server.script([Status(503)])
    result = make_engine(max_retries=0).extract(call, context)
    assert result.engine == "rules" and "HTTP 503" in (result.fallback_reason or "")


def test_refusal_falls_back_without_a_repair(server, make_engine, call, context, rules):
    server.script([Refusal("I can't help with that.")])
    result = make_engine().extract(call, context)

    assert result.engine == "rules"
    assert "refused" in (result.fallback_reason or "")
    assert len(server.chat_requests) == 1 and rules.calls == 1


def test_empty_transcript_needs_no_request(server, make_engine, context):
    result = make_engine().extract([], context)
    assert result.commitments == [] and server.chat_requests == []


def test_default_reply_is_no_commitments(server, make_engine, call, context):
    result = make_engine().extract(call, context)
    assert result.engine == "openai" and result.commitments == []


def test_long_transcript_is_chunked_and_merged(server, make_engine, context):
    filler = [
        Utterance("Sam Ortiz", f"Point number {i} about the rollout plan.") for i in range(40)
    ]
    promise = Utterance("Dana Reyes", "I'll send you the SSO setup guide by Friday.")
    utterances = [*filler[:20], promise, *filler[20:]]  # the promise is utterance 20

    def reply(body):
        """Like a model: report the promise whenever the chunk shows it."""
        user = body["messages"][-1]["content"]
        if "[20] Dana Reyes:" in user:
            return answer(item(utterance_index=20))
        return answer()

    server.script([reply] * 20)
    result = make_engine(chunk_words=60, overlap_utterances=3).extract(utterances, context)

    requests = server.chat_requests
    assert len(requests) > 2
    shown = [r for r in requests if "[20] Dana Reyes:" in r.last_user]
    assert len(shown) >= 2  # the overlap put the promise in two requests …
    assert len(result.commitments) == 1  # … and the merge kept one
    assert result.commitments[0].utterance_index == 20
    assert "Part 1 of" in requests[0].last_user


def test_logs_never_carry_transcript_text(server, make_engine, call, context, caplog):
    server.script([InvalidJSON, answer(item(evidence="not said at all")), InvalidJSON, "{}"])
    with caplog.at_level(logging.DEBUG, logger="bot.llm"):
        make_engine().extract(call, context)
        make_engine().extract(call, context)
    assert caplog.records  # the repair and the fallback were logged …
    logged = " ".join(r.getMessage() for r in caplog.records)
    for utterance in call:  # … without a word of what was said
        assert utterance.text not in logged
    assert "SSO setup guide" not in logged


def test_real_rules_engine_is_the_default_fallback(server, call, context):
    pytest.importorskip("bot.llm.rules")
    from bot.llm.openai_engine import OpenAIEngine

    server.script([Status(500)])
    engine = OpenAIEngine(server.base_url, "test-key", "fake-model", timeout=30, max_retries=0)
    result = engine.extract(call, context)
    assert result.engine == "rules" and "HTTP 500" in (result.fallback_reason or "")


def test_failing_fallback_is_an_llm_error(server, make_engine, call, context):
    class Broken:
        name = "rules"

        def extract(self, utterances, context):
            raise RuntimeError("boom")

    server.script([Status(500)])
    with pytest.raises(LLMError, match="HTTP 500; the rules engine failed too"):
        make_engine(fallback=Broken()).extract(call, context)
