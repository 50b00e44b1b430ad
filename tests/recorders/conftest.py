"""Recorder tests: the app over HTTP, a Zoom stand-in (webhook sender + download server)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import clock
from bot.devtools.webhook_senders import StandardWebhooksSender, new_secret
from bot.devtools.world import World
from bot.devtools.zoom import ZoomDownloadServer, ZoomWebhookSender
from bot.models import Commitment, Transcript
from bot.recorders.models import RecorderDelivery

ZOOM_SECRET = "zoom-secret-token-123"
TRANSCRIPTS_SECRET = new_secret()
NOW = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC)
CALL = (
    Path(__file__).resolve().parents[2] / "bot/devtools/samples/call-2026-11-20.vtt"
).read_bytes()


class Rec:
    def __init__(self, world: World, files: ZoomDownloadServer) -> None:
        self.world, self.files = world, files
        self.zoom = ZoomWebhookSender(f"{world.http_root}/webhooks/zoom", ZOOM_SECRET)
        self.generic = StandardWebhooksSender(f"{world.http_root}/transcripts", TRANSCRIPTS_SECRET)

    def tick(self, at: dt.datetime = NOW) -> dict[str, int]:
        return self.world.tick(at)

    def dm(self, user: str, needle: str, timeout: float = 20) -> dict[str, Any]:
        standin = self.world.standin
        return standin.wait_message(
            user, lambda m: needle in str(m.get("text")) + str(m.get("blocks")), timeout, needle
        )

    def deliveries(self) -> list[RecorderDelivery]:
        with self.world.session() as s:
            return list(s.exec(select(RecorderDelivery).order_by(col(RecorderDelivery.id))))

    def transcripts(self) -> list[Transcript]:
        with self.world.session() as s:
            return list(s.exec(select(Transcript).order_by(col(Transcript.id))))

    def commitments(self) -> list[Commitment]:
        with self.world.session() as s:
            return list(s.exec(select(Commitment).order_by(col(Commitment.id))))


@pytest.fixture
def rec(database_url: str) -> Iterator[Rec]:
    files = ZoomDownloadServer().start()
    world = World(
        database_url,
        http=True,
        zoom_webhook_secret_token=ZOOM_SECRET,
        transcripts_webhook_secret=TRANSCRIPTS_SECRET,
    ).start()
    clock.set_now(NOW)
    helper = Rec(world, files)
    yield helper
    helper.zoom.close()
    helper.generic.close()
    world.stop()
    files.stop()
