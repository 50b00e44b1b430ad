"""The capture worker on both databases: atomic claims, lease recovery, all-or-nothing
proposals, retries of Slack download failures; and the pure helpers around it."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlmodel import select

from bot import audit, clock
from bot.capture import extract, ingest
from bot.capture.context import AccountFacts, guess_account, is_customer
from bot.capture.listing import Query, parse_query
from bot.capture.scheduled import run_capture
from bot.config import load_settings
from bot.db import engine_for, session_scope
from bot.devtools.memory_slack import MemorySlack
from bot.models import Commitment, Person, Transcript
from bot.notify import DeliveryError
from bot.runtime import Runtime

TEAM = "T0TEST"
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
CALL = (
    b"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Maya Chen>I'll send you the SSO guide "
    b"by Friday.\n\n00:00:04.000 --> 00:00:06.000\n<v Dana Ruiz>We will finish the SCIM "
    b"setup by end of next week.\n"
)


class Notes(MemorySlack):
    """The in-memory Slack serving one file; `download_errors` fail first; `posts` are
    (channel, thread_ts, text) of what landed."""

    def __init__(
        self, content: bytes = CALL, download_errors: list[DeliveryError] | None = None
    ) -> None:
        super().__init__()
        self.content = content
        self.download_errors = list(download_errors or [])
        self.downloads = 0

    @property
    def posts(self) -> list[tuple[str, str | None, str]]:
        return [(m.channel, m.thread_ts, m.text) for m in self.live()]

    def download(self, team_id: str, file_id: str, max_bytes: int) -> tuple[dict, bytes]:
        self.downloads += 1
        if self.download_errors:
            raise self.download_errors.pop(0)
        return {"name": "call-2026-11-20.vtt"}, self.content


@pytest.fixture
def rt(database_url: str):  # type: ignore[no-untyped-def]
    settings = load_settings(database_url=database_url, run_scheduler=False)
    runtime = Runtime(settings=settings, engine=engine_for(database_url))
    with session_scope(runtime.engine) as s:
        s.add(Person(team_id=TEAM, slack_user_id="U0MAYA", name="maya", real_name="Maya Chen"))
    yield runtime
    runtime.background.shutdown(wait=True)
    clock.set_now(None)


def _upload(rt: Runtime, file_id: str = "F1") -> int:
    return ingest.accept_upload(
        rt.engine,
        TEAM,
        ingest.FileRef(file_id, "call-2026-11-20.vtt"),
        channel_id="C1",
        user_id="U0MAYA",
        thread_ts="1.1",
    ).transcript_id


def test_claims_are_exclusive_and_an_expired_lease_is_taken_over(rt) -> None:  # type: ignore[no-untyped-def]
    tid = _upload(rt)
    results: list[int | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(extract.claim(rt.engine, tid, NOW)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=lambda r: r or 0)[-1] == 1 and results.count(None) == 3
    assert extract.due_ids(rt.engine, NOW) == []
    later = NOW + extract.LEASE + dt.timedelta(seconds=1)
    assert extract.due_ids(rt.engine, later) == [tid]
    # the stalled worker (attempt 1) can no longer store anything once attempt 2 holds it
    assert extract.claim(rt.engine, tid, later) == 2
    with pytest.raises(LookupError):
        ingest.store_content(rt.engine, tid, 1, CALL)
    # a job whose workers keep dying is given up on, with a message, after a few leases
    when = later
    for _ in range(extract.MAX_ATTEMPTS):
        when += extract.LEASE + dt.timedelta(seconds=1)
        extract.claim(rt.engine, tid, when)
    notes = Notes()
    when += extract.LEASE + dt.timedelta(seconds=1)
    assert extract.process_transcript(rt, notes, tid, when) == "failed"
    assert "gave up" in notes.posts[-1][2]


def test_scheduled_job_finishes_an_upload_and_posts_in_its_thread(rt) -> None:  # type: ignore[no-untyped-def]
    tid = _upload(rt)
    notes = Notes()
    assert run_capture(rt, notes, NOW) == 1
    assert run_capture(rt, notes, NOW) == 0  # nothing left; nothing twice
    with session_scope(rt.engine) as s:
        t = s.get(Transcript, tid)
        rows = list(s.exec(select(Commitment)))
    assert t.status == "review" and t.content == CALL and t.lease_until is None
    assert {c.owner_name for c in rows} == {"Maya Chen", "Dana Ruiz"}
    assert next(c for c in rows if c.owner_name == "Maya Chen").owner_user_id == "U0MAYA"
    assert [p[1] for p in notes.posts] == ["1.1"]  # one review message, in the upload's thread


def test_a_crash_while_storing_proposals_stores_none_of_them(rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tid = _upload(rt)
    real = audit.record
    calls = {"n": 0}

    def crash_on_second(*a: Any, **k: Any) -> Any:
        if a[3] == "commitment":
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("power cut")
        return real(*a, **k)

    monkeypatch.setattr(extract.audit, "record", crash_on_second)
    notes = Notes()
    assert extract.process_transcript(rt, notes, tid, NOW) == "retry"
    with session_scope(rt.engine) as s:
        assert list(s.exec(select(Commitment))) == []
        t = s.get(Transcript, tid)
    assert t.status == "queued" and t.content == CALL  # kept, and tried again later
    monkeypatch.setattr(extract.audit, "record", real)
    assert run_capture(rt, notes, NOW + dt.timedelta(minutes=5)) == 1
    with session_scope(rt.engine) as s:
        assert len(list(s.exec(select(Commitment)))) == 2


def test_slack_download_hiccups_are_retried_then_explained(rt) -> None:  # type: ignore[no-untyped-def]
    tid = _upload(rt)
    flaky = Notes(download_errors=[DeliveryError("500", retryable=True)] * 3)
    assert extract.process_transcript(rt, flaky, tid, NOW) == "retry"
    assert extract.process_transcript(rt, flaky, tid, NOW) == "taken"  # waits for its retry time
    soon = NOW + dt.timedelta(minutes=2)
    assert extract.process_transcript(rt, flaky, tid, soon) == "retry"
    assert extract.process_transcript(rt, flaky, tid, soon + dt.timedelta(minutes=5)) == "failed"
    assert "couldn't read" in flaky.posts[-1][2]
    other = _upload(rt, "F2")
    gone = Notes(download_errors=[DeliveryError("x", retryable=False, code="file_not_found")])
    assert extract.process_transcript(rt, gone, other, NOW) == "failed"
    assert "file_not_found" in gone.posts[-1][2]


def test_guess_account_pure() -> None:
    accounts = [
        AccountFacts(1, "Acme Corp", "acme.com", "C0ACME", ("Dana Ruiz",)),
        AccountFacts(2, "Globex", "globex.com", None, ("Hank Scorpio",)),
        AccountFacts(3, "Acme Labs", "acmelabs.io"),
    ]
    guess = guess_account
    assert guess(accounts, channel_id="C0ACME", filename="x.vtt", text="", speakers=[]) == 1
    assert (
        guess(accounts, channel_id=None, filename="globex-qbr-2026-11-20.vtt", text="", speakers=[])
        == 2
    )
    assert (
        guess(
            accounts,
            channel_id=None,
            filename="call.vtt",
            text="hi",
            speakers=["Hank Scorpio", "Maya Chen"],
        )
        == 2
    )
    assert (
        guess(accounts, channel_id=None, filename="acme-call.vtt", text="", speakers=[]) is None
    )  # two Acmes: no guess, the reviewer picks
    assert (
        guess(accounts, channel_id=None, filename="call.vtt", text="nothing here", speakers=[])
        is None
    )
    acme = accounts[0]
    assert is_customer("Dana Ruiz", acme) and is_customer("Dana", acme)
    assert is_customer("Lee (Acme)", acme) and not is_customer("Li W.", acme)


def test_parse_commitments_query() -> None:
    assert parse_query("") == Query("mine")
    assert parse_query(" settings ") == Query("settings")
    assert parse_query("<@U0LI|li>") == Query("owner", "U0LI")
    assert parse_query("<@U0LI>") == Query("owner", "U0LI")
    assert parse_query("@li") == Query("owner", "li")
    assert parse_query("Acme Corp") == Query("account", "Acme Corp")
