"""draft_step: checked, shortened, and refused when placeholders stay."""

from __future__ import annotations

import pytest

from bot.devtools.fake_openai import Hang
from bot.llm.base import LLMError
from bot.llm.openai_engine import find_placeholders, truncate_at_sentence

TEMPLATE = "Hi {contact.first_name}, sorry about {risk.summary}. Can we meet this week?"
FACTS = {"account": {"name": "Acme"}, "contact": {"first_name": "Sam"}, "notes": "SSO failing"}
STEP = {"summary": "Apologise and offer a call", "medium": "email", "recipient": "Sam Ortiz"}
GOOD = "Hi Sam, sorry about the SSO trouble at Acme. Can we meet this week to fix it?"


def test_good_draft_is_returned_and_context_is_fenced(server, make_engine):
    server.script([GOOD])
    assert make_engine().draft_step(TEMPLATE, FACTS, STEP) == GOOD
    [request] = server.chat_requests
    inside = request.last_user.split("<context>", 1)[1].split("</context>", 1)[0]
    assert "SSO failing" in inside and "{contact.first_name}" in inside
    assert "response_format" not in request.body


def test_too_long_draft_is_asked_shorter_then_cut_at_a_sentence(server, make_engine):
    long = "This sentence is long enough. " * 10
    server.script([long, long])
    draft = make_engine().draft_step(TEMPLATE, FACTS, STEP, max_chars=100)

    assert len(draft) <= 100 and draft.endswith("enough.")
    first, retry = server.chat_requests
    assert "limit is 100" in retry.last_user


def test_too_long_draft_fixed_on_retry(server, make_engine):
    server.script(["Way too long. " * 20, GOOD])
    assert make_engine().draft_step(TEMPLATE, FACTS, STEP, max_chars=120) == GOOD


def test_leftover_placeholder_retried_once_then_llm_error(server, make_engine):
    server.script(["Hi [Name], sorry about that.", "Hi {contact.first_name}, sorry."])
    with pytest.raises(LLMError, match="placeholders"):
        make_engine().draft_step(TEMPLATE, FACTS, STEP)
    first, retry = server.chat_requests
    assert "[Name]" in retry.last_user


def test_placeholder_fixed_on_retry(server, make_engine):
    server.script(["Dear <first name>, hello.", GOOD])
    assert make_engine().draft_step(TEMPLATE, FACTS, STEP) == GOOD


def test_empty_twice_is_an_error(server, make_engine):
    server.script(["  ", "```\n```"])
    with pytest.raises(LLMError, match="empty"):
        make_engine().draft_step(TEMPLATE, FACTS, STEP)


def test_server_failure_is_an_llm_error(server, make_engine):
    server.script([Hang(30)])
    with pytest.raises(LLMError, match="did not answer"):
        make_engine(timeout=0.5).draft_step(TEMPLATE, FACTS, STEP)


def test_default_fake_draft_passes_the_checks(server, make_engine):
    assert make_engine().draft_step(TEMPLATE, FACTS, STEP).startswith("Hi, thank you")


def test_placeholder_detection_spares_slack_syntax() -> None:
    text = "Hi <@U123>, see <https://x.io/a|the guide> and <!here> [1]. {account.name} [Name]"
    assert find_placeholders(text) == ["{account.name}", "[Name]"]
    assert find_placeholders("Dear <first name>,") == ["<first name>"]
    assert find_placeholders("All filled in.") == []


def test_truncate_prefers_sentence_end_then_word() -> None:
    assert truncate_at_sentence("One. Two three four.", 12) == "One. Two…"
    assert truncate_at_sentence("Alpha beta. Gamma delta epsilon.", 20) == "Alpha beta."
    cut = truncate_at_sentence("word " * 40, 30)
    assert len(cut) <= 30 and cut.endswith("…") and "wor…" not in cut
    assert truncate_at_sentence("short", 30) == "short"
