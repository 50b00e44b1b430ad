"""Foundation, Slack-level: signatures, /healthz, retries of events, account search options,
Web API faults — all through signed requests and the local stand-in."""

from __future__ import annotations

import httpx
from sqlmodel import select

from bot.models import AuditEvent, Person, ProcessedEvent


def test_missing_wrong_or_stale_signature_is_401_and_changes_nothing(slack_http) -> None:
    world = slack_http
    before = world.standin.calls()
    with world.session() as s:
        audited = list(s.exec(select(AuditEvent)))  # start-up loaded the seed playbooks
    for kwargs in ({"sign": False}, {"signature": "v0=" + "0" * 64}, {"timestamp_offset": -360}):
        resp = world.driver.post(
            b"token=x&team_id=T0TEST&command=%2Fcommitments&text=",
            "application/x-www-form-urlencoded",
            **kwargs,
        )
        assert resp.status == 401
    with world.session() as s:
        assert list(s.exec(select(AuditEvent))) == audited
    assert len(world.standin.calls()) == len(before)


def test_healthz_over_http(slack_http) -> None:
    resp = httpx.get(slack_http.base_url.replace("/slack/events", "/healthz"))
    assert resp.status_code == 200 and resp.json() == {"ok": True, "database": "ok"}


def test_url_verification_over_http(slack_http) -> None:
    resp = slack_http.driver.url_verification("abc123")
    assert resp.status == 200 and resp.json == {"challenge": "abc123"}


def test_event_retry_with_same_event_id_is_acknowledged_and_ignored(slack) -> None:
    first = slack.driver.app_mention("hello")
    assert first.status == 200
    again = slack.driver.redeliver(first, retry_num=1, retry_reason="http_timeout")
    assert again.status == 200
    with slack.session() as s:
        rows = list(s.exec(select(ProcessedEvent).where(ProcessedEvent.event_id == first.event_id)))
    assert len(rows) == 1


def test_account_search_options(slack) -> None:
    slack.seed_account("Acme Corp", "acme.com")
    slack.seed_account("Acme Labs", "acmelabs.io")
    slack.seed_account("Globex", "globex.com")
    resp = slack.driver.block_suggestion("account_select", "acme")
    assert resp.status == 200
    names = [o["text"]["text"] for o in resp.json["options"]]
    assert names == ["Acme Corp", "Acme Labs"]


def test_people_are_cached_after_one_fetch(slack) -> None:
    from bot.people.service import get_person
    from bot.slack.directory import SlackDirectory

    slack.standin.reset_calls()
    with slack.session() as s:
        for _ in range(3):
            get_person(s, slack.team_id, "U0SAM", SlackDirectory(slack.client))
        p = s.exec(select(Person).where(Person.slack_user_id == "U0SAM")).one()
    assert p.tz == "Europe/London" and p.email == "sam@vendor.io"
    assert slack.standin.calls("users.info") == []  # cached at start-up, not fetched again


def test_web_api_429_then_success_is_retried(slack) -> None:
    slack.standin.fail("chat.postMessage", "ratelimited", times=1, retry_after=0)
    posted = slack.notifier.post(slack.team_id, "C0CSRISK", "hello")
    assert posted.ts
    assert [c.error for c in slack.standin.calls("chat.postMessage")] == ["ratelimited", None]


def test_web_api_persistent_500_becomes_a_retryable_delivery_error(slack) -> None:
    import pytest

    from bot.notify import DeliveryError

    slack.standin.fail("chat.postMessage", status=500, times=10)
    with pytest.raises(DeliveryError) as exc:
        slack.notifier.post(slack.team_id, "C0CSRISK", "hello")
    assert exc.value.retryable


def test_mention_gets_help_in_thread(slack) -> None:
    resp = slack.driver.app_mention("what can you do?")
    assert resp.status == 200
    mention = slack.standin.messages("C0CSRISK")[-1]
    reply = slack.standin.wait_message(
        "C0CSRISK", lambda m: m.get("thread_ts") == mention["ts"] and m["ts"] != mention["ts"]
    )
    assert "transcript" in reply["text"]
