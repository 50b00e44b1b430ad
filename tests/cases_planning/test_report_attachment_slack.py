"""/report-risk with a call transcript attached (file_input), through signed requests: the
file goes through capture, is linked to the account, and its lines reach the drafts."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
from sqlmodel import select

from bot.cases import attachment
from bot.cases import plan_blocks as cards
from bot.cases.drafting import Drafter
from bot.devtools.standin.blockkit import validate_message_blocks, validate_view
from bot.models import Case, Commitment, Transcript

CALL = "\n".join(
    [
        "WEBVTT",
        "",
        "00:00:01.000 --> 00:00:04.000",
        "<v Maya Chen>Thanks for joining today.</v>",
        "",
        "00:00:05.000 --> 00:00:09.000",
        "<v Jo Bloggs>Heads up: Dana resigned and left the company last week.</v>",
        "",
        "00:00:10.000 --> 00:00:14.000",
        "<v Maya Chen>I'll send you the onboarding plan for the new team by Friday.</v>",
        "",
    ]
).encode()


class QuotingEngine:
    """A stand-in LLM that writes each draft from the call excerpt it is given."""

    def draft_step(
        self,
        template: str,
        facts: Mapping[str, Any],
        step: Mapping[str, Any],
        max_chars: int = 2500,
    ) -> str:
        return f"From the call: {facts.get('last_call_excerpt') or 'nothing quoted'}"


def _card(world) -> dict:  # type: ignore[no-untyped-def]
    world.standin.wait_for(
        "chat.postMessage", timeout=20, predicate=lambda c: c.args.get("channel") == "C0CSRISK"
    )
    _drain(world)
    card = world.standin.last_message("C0CSRISK")
    assert card is not None and not validate_message_blocks(card["blocks"])
    return card


def _drain(world) -> None:  # type: ignore[no-untyped-def]
    pool = world.rt.background
    barrier = threading.Barrier(pool._max_workers + 1)
    for _ in range(pool._max_workers):
        pool.submit(barrier.wait, 30)
    barrier.wait(30)


def _report(world, account_id: int, file_obj: dict | None, user: str = "U0MAYA"):  # type: ignore[no-untyped-def]
    before = len(world.standin.calls("views.open"))
    world.driver.command("/report-risk", "acme", user_id=user)
    world.standin.wait_for("views.open", before + 1, timeout=20)
    view = world.standin.open_views(user)[-1]
    values: dict[str, Any] = {
        "account": str(account_id),
        "risk": "champion_left",
        "context": "Dana, our champion, left Acme.",
    }
    if file_obj is not None:
        values["transcript"] = [file_obj]
    resp = world.driver.view_submission(view, values, user_id=user)
    assert resp.status == 200 and not resp.problems
    return view


def _file(world, name: str, content: bytes, file_id: str, mimetype: str = "text/vtt") -> dict:  # type: ignore[no-untyped-def]
    return world.standin.add_file(world.team_id, file_id, name, content, mimetype, user="U0MAYA")


def _only_case(world) -> Case:  # type: ignore[no-untyped-def]
    with world.session() as s:
        [case] = list(s.exec(select(Case)))
        return case


def test_report_modal_offers_one_transcript_file() -> None:
    view = cards.report_modal([("champion_left", "Champion left")])
    assert not validate_view(view)
    block = next(b for b in view["blocks"] if b["block_id"] == cards.TRANSCRIPT_BLOCK)
    assert block["optional"] is True
    assert block["element"]["type"] == "file_input" and block["element"]["max_files"] == 1
    assert set(block["element"]["filetypes"]) == {"vtt", "srt", "txt", "json", "docx"}


def test_attached_transcript_is_read_linked_and_quoted_in_the_drafts(slack, monkeypatch) -> None:
    monkeypatch.setattr("bot.cases.flows.drafter_for", lambda settings: Drafter(QuotingEngine()))
    account = slack.seed_account("Acme Corp", "acme.com")
    file_obj = _file(slack, "weekly-sync.vtt", CALL, "F0RISK0001")
    view = _report(slack, account.id, file_obj)
    assert any(b["block_id"] == "transcript" for b in view["blocks"])
    card = _card(slack)

    case = _only_case(slack)
    with slack.session() as s:
        [t] = list(s.exec(select(Transcript)))
        commitments = list(s.exec(select(Commitment)))
    assert t.slack_file_id == "F0RISK0001" and t.uploader_user_id == "U0MAYA"
    assert t.account_id == account.id  # linked to the reported account, not guessed
    assert commitments and all(c.account_id == account.id for c in commitments)
    attached = case.gathered["attachment"]
    assert attached["status"] == "read" and attached["context_transcript_id"] == t.id
    assert case.gathered["excerpts"][0]["transcript_id"] == t.id
    text = str(card["blocks"])
    assert "Dana resigned and left the company" in text  # the drafts quote this call
    assert "weekly-sync.vtt* read" in text
    # the review of its commitments is threaded under the "Reading…" DM to the reporter
    reading = next(
        m for m in slack.standin.messages("U0MAYA") if "Reading weekly-sync.vtt" in m["text"]
    )
    replies = slack.standin.thread("U0MAYA", reading["ts"])[1:]
    assert any("onboarding plan" in str(r.get("blocks")) for r in replies)


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01\x02\xffPK\x03\x04" * 40], ids=["empty", "binary"]
)
def test_unreadable_attachment_still_makes_the_case_and_says_so(slack, content) -> None:
    account = slack.seed_account("Acme Corp", "acme.com")
    file_obj = _file(slack, "call.vtt", content, "F0RISKBAD1", "application/octet-stream")
    _report(slack, account.id, file_obj)
    card = _card(slack)

    case = _only_case(slack)
    assert case.status == "planned" and case.total_steps > 0
    assert case.gathered["attachment"]["status"] == "failed"
    assert ":warning: Transcript *call.vtt* could not be read" in str(card["blocks"])
    with slack.session() as s:
        [t] = list(s.exec(select(Transcript)))
    assert t.status == "failed" and t.slack_file_id == "F0RISKBAD1" and t.error  # kept
    reading = next(m for m in slack.standin.messages("U0MAYA") if "Reading call.vtt" in m["text"])
    replies = slack.standin.thread("U0MAYA", reading["ts"])[1:]
    assert replies, "the reporter is told in the reading thread why the file failed"


def test_slow_transcript_does_not_hold_the_case_and_the_card_says_so(slack, monkeypatch) -> None:
    release = threading.Event()
    original = attachment.read_for_case

    def slow_read(*args: Any, **kwargs: Any) -> str:
        assert release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(attachment, "read_for_case", slow_read)
    monkeypatch.setattr(attachment, "ATTACH_WAIT_SECONDS", 0.0)
    account = slack.seed_account("Acme Corp", "acme.com")
    _report(slack, account.id, _file(slack, "weekly-sync.vtt", CALL, "F0RISKSLOW"))
    slack.standin.wait_for(
        "chat.postMessage", timeout=20, predicate=lambda c: c.args.get("channel") == "C0CSRISK"
    )
    card = slack.standin.last_message("C0CSRISK")
    assert "is still being read" in str(card["blocks"])
    assert _only_case(slack).gathered["attachment"]["status"] == "reading"
    release.set()
    _drain(slack)
    _drain(slack)
    with slack.session() as s:
        [t] = list(s.exec(select(Transcript)))
    assert t.status == "review" and t.account_id == account.id
