"""Fixtures: a started stand-in with one workspace, and a Bolt app wired to it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.devtools.standin import SlackDriver, SlackStandin

SECRET = "test-signing-secret"


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """App() silently reads SLACK_* variables; keep the developer's environment out."""
    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        s.add_team("T1", "Acme CS")
        s.add_user("T1", "U1", "ann", "Ann Archer", "ann@acme.test")
        s.add_user("T1", "U2", "bob", "Bob Baker", "bob@acme.test", tz="Europe/Paris")
        s.add_user("T1", "U9", "gone", "Gone User", "gone@acme.test", deleted=True)
        s.add_channel("T1", "C1", "cs-team", ["U1", "U2"])
        s.add_channel("T1", "C2", "no-bot", ["U1"], bot_member=False)
        yield s


@pytest.fixture
def client(standin: SlackStandin) -> WebClient:
    return WebClient(base_url=standin.api_url, token="xoxb-T1")


@pytest.fixture
def app(standin: SlackStandin) -> App:
    return App(
        signing_secret=SECRET,
        client=WebClient(base_url=standin.api_url, token="xoxb-T1"),
        token_verification_enabled=True,
    )


@pytest.fixture
def driver(standin: SlackStandin, app: App) -> SlackDriver:
    return SlackDriver(SECRET, "T1", standin, app, user_id="U1", channel_id="C1")
