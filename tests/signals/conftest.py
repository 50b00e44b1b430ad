"""Signals test helpers: the app over real HTTP (waitress), a Standard-Webhooks sender
stand-in with the workspace's secret, and waits on the specific Slack message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from bot import clock
from bot.devtools.webhook_senders import StandardWebhooksSender, new_secret
from bot.devtools.world import World
from bot.signals.models import SignalEvent, SignalSuggestion

SECRET = new_secret()
NOW = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in New York


class Signals:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sender = StandardWebhooksSender(f"{world.http_root}/signals", SECRET)

    def tick(self, at: dt.datetime = NOW) -> dict[str, int]:
        return self.world.tick(at)

    def _wait(self, method: str, user: str, needle: str, timeout: float) -> Any:
        standin = self.world.standin

        def match(call: Any) -> bool:
            return (
                call.ok
                and call.args.get("channel") in {user, standin.dm_channel(user)}
                and needle in str(call.args.get("text")) + str(call.args.get("blocks"))
            )

        return standin.wait_for(method, 1, timeout=timeout, predicate=match)[-1]

    def dm(self, user: str, needle: str, timeout: float = 15) -> dict[str, Any]:
        """The DM to `user` whose text or blocks contain `needle` (waits for it to be posted)."""
        call = self._wait("chat.postMessage", user, needle, timeout)
        ts = call.response.get("ts")
        for m in self.world.standin.messages(user):
            if m["ts"] == ts:
                return m | {"channel": self.world.standin.dm_channel(user)}
        raise AssertionError(f"no DM to {user} with {needle!r}")

    def updated(self, user: str, needle: str, timeout: float = 15) -> dict[str, Any]:
        """Wait until a DM to `user` is updated to show `needle`; returns the message."""
        call = self._wait("chat.update", user, needle, timeout)
        for m in self.world.standin.messages(user):
            if m["ts"] == call.args.get("ts"):
                return m | {"channel": self.world.standin.dm_channel(user)}
        raise AssertionError("updated message not found")

    def suggestions(self) -> list[SignalSuggestion]:
        with self.world.session() as s:
            return list(s.exec(select(SignalSuggestion).order_by(col(SignalSuggestion.id))))

    def signals(self) -> list[SignalEvent]:
        with self.world.session() as s:
            return list(s.exec(select(SignalEvent).order_by(col(SignalEvent.id))))


@pytest.fixture
def sig(database_url: str) -> Iterator[Signals]:
    world = World(database_url, http=True, signals_webhook_secret=SECRET).start()
    clock.set_now(NOW)
    helper = Signals(world)
    yield helper
    helper.sender.close()
    world.stop()
