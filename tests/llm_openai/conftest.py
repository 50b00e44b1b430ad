"""Fixtures: a real fake OpenAI server on 127.0.0.1, an engine pointed at it, a stub fallback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.devtools.fake_openai import FakeOpenAIServer
from bot.llm.base import CallContext, Commitment, ExtractionResult
from bot.llm.openai_engine import OpenAIEngine
from bot.transcripts.model import Utterance


class StubRules:
    """Stands in for the rules engine: one fixed commitment, and a record of its calls."""

    name = "rules"

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult:
        self.calls += 1
        found = Commitment(owner="Dana", text="Dana sends the SSO guide", evidence="SSO guide")
        return ExtractionResult(engine=self.name, commitments=[found])


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key="test-key") as running:
        yield running


@pytest.fixture
def rules() -> StubRules:
    return StubRules()


@pytest.fixture
def make_engine(server: FakeOpenAIServer, rules: StubRules) -> Callable[..., OpenAIEngine]:
    def make(**overrides: Any) -> OpenAIEngine:
        options: dict[str, Any] = {"timeout": 30, "max_retries": 0, "fallback": rules}
        options.update(overrides)
        return OpenAIEngine(server.base_url, "test-key", "fake-model", **options)

    return make


@pytest.fixture
def call() -> list[Utterance]:
    return [
        Utterance("Dana Reyes", "Thanks for joining, everyone.", 0.0),
        Utterance("Sam Ortiz", "Our SSO rollout is stuck, the SAML config keeps failing.", 4.0),
        Utterance("Dana Reyes", "I'll send you the SSO setup guide by Friday.", 9.0),
        Utterance("Sam Ortiz", "Great. And we will finish the Okta integration next week.", 14.0),
        Utterance("Dana Reyes", "Perfect, talk soon.", 20.0),
    ]


@pytest.fixture
def context() -> CallContext:
    return CallContext(
        call_date=dt.date(2025, 3, 5),  # a Wednesday
        our_speakers=["Dana Reyes"],
        customer_speakers=["Sam Ortiz"],
        account_name="Acme",
    )
