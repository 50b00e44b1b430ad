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
from bot.signals.models import SignalEvent, SignalStatus, SignalSuggestion

SECRET = new_secret()
NOW = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in New York


class Signals:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sender = StandardWebhooksSender(f"{world.http_root}/signals", SECRET)

    def tick(self, at: dt.datetime = NOW) -> dict[str, int]:
        """The scheduled work at `at`, run until every stored signal is evaluated: on SQLite
        a tick evaluates only what fits in its 15 ms write-lock budget (the signals API must
        not wait), so on a busy machine one tick may leave some for the next."""
        done = self.world.tick(at)
        for _ in range(500):
            with self.world.session() as s:
                waiting = s.exec(
                    select(SignalEvent.id).where(SignalEvent.status == SignalStatus.NEW).limit(1)
                ).first()
            if waiting is None:
                return done
            done = self.world.tick(at)
        raise AssertionError("stored signals were never evaluated")

    def dm(self, user: str, needle: str, timeout: float = 20) -> dict[str, Any]:
        """The newest DM to `user` showing `needle` in its text or blocks (waits for it)."""
        standin = self.world.standin
        found = standin.wait_message(
            user, lambda m: needle in str(m.get("text")) + str(m.get("blocks")), timeout, needle
        )
        return found | {"channel": standin.dm_channel(user)}

    updated = dm  # a DM edited in place to show `needle` is found the same way

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
