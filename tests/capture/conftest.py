"""Capture test helpers: upload a file to the stand-in and wait for the app's answer in its
thread (the work runs in the background, so we wait on the stand-in's recorder)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.models import Commitment, Transcript

SAMPLES = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples"
CALL = SAMPLES / "call-2026-11-20.vtt"
_ids = itertools.count(1)


def vtt(*cues: tuple[str, str]) -> bytes:
    """A small Teams-style VTT: (speaker, text) per cue, two seconds apart."""
    out = ["WEBVTT", ""]
    for n, (who, text) in enumerate(cues):
        out += [f"00:00:{2 * n:02d}.000 --> 00:00:{2 * n + 1:02d}.500", f"<v {who}>{text}</v>", ""]
    return "\n".join(out).encode()


@dataclass
class Upload:
    file_id: str
    message: dict[str, Any]
    channel: str

    @property
    def ts(self) -> str:
        return self.message["ts"]


class Capture:
    def __init__(self, world: Any) -> None:
        self.world = world
        self.futures: list[Future] = []
        submit = world.rt.submit

        def recording_submit(fn: Any, *args: Any, **kwargs: Any) -> Future:
            future = submit(fn, *args, **kwargs)
            self.futures.append(future)
            return future

        world.rt.submit = recording_submit  # so tests can wait for the background work

    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str = "text/vtt",
        channel: str = "C0CSRISK",
        user: str = "U0MAYA",
    ) -> str:
        file_id = f"F0CAP{next(_ids):05d}"
        self.world.standin.add_file(
            self.world.team_id, file_id, name, content, mimetype, user=user, channels=[channel]
        )
        return file_id

    def upload(
        self,
        name: str,
        content: bytes,
        *,
        channel: str = "C0CSRISK",
        user: str = "U0MAYA",
        mimetype: str = "text/vtt",
    ) -> Upload:
        file_id = self.add_file(name, content, mimetype, channel, user)
        resp = self.world.driver.file_share_message([file_id], user_id=user, channel_id=channel)
        assert resp.status == 200
        msg = self.world.standin.messages(channel)[-1]
        assert msg.get("files"), "the upload message carries the file"
        return Upload(file_id, msg, channel)

    def thread(self, up: Upload) -> list[dict[str, Any]]:
        return [m for m in self.world.standin.thread(up.channel, up.ts) if m["ts"] != up.ts]

    def wait_answer(self, up: Upload, needle: str, timeout: float = 30.0) -> dict[str, Any]:
        """The bot's newest thread reply containing `needle` (in text or blocks), once there."""

        def match(m: dict[str, Any]) -> bool:
            return (
                m.get("thread_ts") == up.ts
                and m["ts"] != up.ts
                and needle in str(m.get("text")) + str(m.get("blocks"))
            )

        found = self.world.standin.wait_message(
            up.channel, match, timeout, f"a reply in the thread saying {needle!r}"
        )
        return found | {"channel": up.channel}

    def wait_review(
        self, channel: str, ts: str, shows: Callable[[str], bool], what: str
    ) -> dict[str, Any]:
        """The review message `ts` once its blocks (as text) satisfy `shows`."""
        found = self.world.standin.wait_message(
            channel, lambda m: m["ts"] == ts and shows(str(m.get("blocks"))), what=what
        )
        return found | {"channel": channel}

    def review(self, up: Upload) -> dict[str, Any]:
        return self.wait_answer(up, "Commitments from")

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        for m in self.world.standin.messages(channel, include_replies=True):
            if m["ts"] == ts:
                return m | {"channel": channel}
        raise AssertionError(f"no message {ts}")

    def commitments(self) -> list[Commitment]:
        with self.world.session() as s:
            return list(s.exec(select(Commitment).order_by(col(Commitment.id))))

    def transcripts(self) -> list[Transcript]:
        with self.world.session() as s:
            return list(s.exec(select(Transcript).order_by(col(Transcript.id))))

    def idle(self, timeout: float = 60.0) -> None:
        """Wait until every background job the app submitted has finished."""
        done, pending = wait(self.futures, timeout=timeout)
        assert not pending, f"{len(pending)} background job(s) still running"


@pytest.fixture
def cap(slack: Any) -> Iterator[Capture]:
    yield Capture(slack)


@pytest.fixture
def make_capture() -> type[Capture]:
    """For tests that build their own world (e.g. with the openai engine)."""
    return Capture


@pytest.fixture
def call_vtt() -> bytes:
    """The sample customer call (Teams VTT): Maya and Li for us, Dana and Priya for Acme."""
    return CALL.read_bytes()
