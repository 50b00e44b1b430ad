"""Bad input and faults on POST /signals, each answered clearly with nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from sqlmodel import select

from bot import audit
from bot.devtools.webhook_senders import (
    StandardWebhooksSender,
    ZendeskSender,
    signal,
    zendesk_ticket_event,
)
from bot.signals import service
from bot.signals.evaluate import evaluate_new
from bot.signals.models import SignalEvent
from bot.signals.ruleset import load_rules, rule_problems, rules_folder
from bot.signals.store import add_source

from .conftest import NOW, Signals


def test_unsigned_stale_forged_and_replayed_are_401(sig: Signals) -> None:
    sig.world.seed_account()
    body = signal("acme.com", "health_score", 30)
    assert sig.sender.post(body, headers={"content-type": "application/json"}).status == 401
    assert sig.sender.post(body, timestamp=int(time.time()) - 600).status == 401
    wrong = StandardWebhooksSender(sig.sender.url, "whsec_" + "A" * 32)
    assert wrong.post(body).status == 401
    wrong.close()
    raw = json.dumps(body).encode()
    headers = sig.sender.headers(raw, "msg_replay_1")
    assert sig.sender.post(None, raw=raw, headers=headers).status == 202
    assert sig.sender.post(None, raw=raw, headers=headers).status == 401  # the same delivery again
    later = int(headers["webhook-timestamp"]) + 2
    retry = sig.sender.post(None, raw=raw, headers=sig.sender.headers(raw, "msg_replay_1", later))
    assert retry.status == 202 and retry.body["duplicates"] == 1  # a retry, signed anew
    assert len(sig.signals()) == 1


def test_malformed_json_400_and_huge_body_413(sig: Signals) -> None:
    assert sig.sender.post(None, raw=b'{"schema": ').status == 400
    assert sig.sender.post(None, raw=b"\xff\xfe").status in {400, 401}
    ans = sig.sender.post({"account": "acme.com", "signal": {}})
    assert ans.status == 400 and "type" in ans.body["error"]
    assert sig.sender.post(None, raw=b"x" * (10 * 1024 * 1024)).status == 413
    assert sig.signals() == []


def test_unknown_account_is_kept_and_can_be_mapped(sig: Signals) -> None:
    w = sig.world
    acme = w.seed_account()
    assert sig.sender.post(signal("Acme Corporation Ltd", "health_score", 20)).status == 202
    sig.tick()
    [s] = sig.signals()
    assert s.status == "unmatched"
    with w.session() as session:
        [u] = service.unmatched(session, w.team_id)
        assert u.account_key == "Acme Corporation Ltd" and u.signals == 1
        account, n = service.map_key(session, w.team_id, u.account_key, "acme.com", "U0ANA")
        assert account.id == acme.id and n == 1
    sig.tick(NOW + dt.timedelta(minutes=1))
    sig.dm("U0MAYA", "Suggested case")
    # the mapping is remembered for the next signal with that key
    sig.sender.post(signal("Acme Corporation Ltd", "health_score", 18))
    sig.tick(NOW + dt.timedelta(minutes=2))
    assert {s.status for s in sig.signals()} == {"evaluated"}


def test_signal_for_a_deleted_account_is_kept_not_suggested(sig: Signals) -> None:
    w = sig.world
    acme = w.seed_account()
    with w.session() as s:
        audit.record(s, w.team_id, "crm:hubspot", "account", acme.id, "crm_deleted")
    sig.sender.post(signal("acme.com", "health_score", 10))
    sig.tick()
    [s] = sig.signals()
    assert s.status == "account_deleted" and sig.suggestions() == []


def test_a_burst_of_10000_identical_signals_makes_one_suggestion(sig: Signals) -> None:
    sig.world.seed_account()
    one = signal("acme.com", "health_score", 25)
    for _ in range(10):
        ans = sig.sender.post({"schema": "followthrough.signal/v1", "signals": [one] * 1000})
        assert ans.status == 202 and ans.body["accepted"] == 1000
    same = signal("acme.com", "health_score", 25, key="vitally:same-event")
    for _ in range(20):
        sig.sender.post(same)
    # the worker's ticks yield SQLite's write lock every few ms (for the API); this test has
    # no API traffic to protect, so it evaluates in whole batches, then ticks for the DM
    with sig.world.session() as s:
        load_rules(s, sig.world.team_id, rules_folder(sig.world.settings))
    while evaluate_new(sig.world.rt.engine, NOW, budget=0):
        pass
    sig.tick()
    [s] = sig.suggestions()
    assert s.signal_count == 10_001
    dms = [m for m in sig.world.standin.messages("U0MAYA") if "Suggested case" in m["text"]]
    assert len(dms) == 1


def test_zendesk_events_are_verified_and_mapped(sig: Signals) -> None:
    w = sig.world
    w.seed_account()
    with w.session() as s:
        add_source(
            s, w.team_id, "zendesk", "zendesk", secret="zd-secret", url_token=None, actor="cli"
        )
    zd = ZendeskSender(f"{w.http_root}/signals/zendesk", "zd-secret")
    assert ZendeskSender(zd.url, "wrong").post(zendesk_ticket_event(1, "1500")).status == 401
    for n in range(3):
        assert zd.post(zendesk_ticket_event(100 + n, "1500")).status == 202
    assert zd.post(zendesk_ticket_event(9, "1500", "organization.created")).status == 202
    zd.close()
    sig.tick()
    assert {s.status for s in sig.signals()} == {"unmatched"}
    assert {s.account_key for s in sig.signals()} == {"zendesk:org:1500"}


def test_url_token_source_for_tools_that_cannot_sign(sig: Signals) -> None:
    w = sig.world
    w.seed_account()
    with w.session() as s:
        add_source(
            s, w.team_id, "churnzero", "generic", secret=None, url_token="tok-123", actor="cli"
        )
    import httpx

    body = json.dumps(signal("acme.com", "health_score", 33)).encode()
    url = f"{w.http_root}/signals/churnzero"
    assert httpx.post(url, content=body).status_code == 401
    assert httpx.post(url + "?token=nope", content=body).status_code == 401
    assert httpx.post(url + "?token=tok-123", content=body).status_code == 202
    with w.session() as s:
        [row] = s.exec(select(SignalEvent)).all()
        assert row.auth == "token"


def test_a_rule_file_with_an_error_keeps_the_old_rules(
    sig: Signals, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    w = sig.world
    w.seed_account()
    folder = tmp_path / "rules"
    folder.mkdir()
    good = "key: low\nname: Low health\nsignal: health_score\nwhen:\n  below: 50\nrisk: usage_dip\n"
    (folder / "low.yaml").write_text(good)
    w.rt.settings.signal_rules_dir = str(folder)
    sig.tick()
    (folder / "low.yaml").write_text(good.replace("below: 50", "below: fifty"))
    with caplog.at_level(logging.WARNING):
        sig.tick(NOW + dt.timedelta(minutes=1))
    assert "low.yaml:5:10" in caplog.text
    with w.session() as s:
        assert rule_problems(s, w.team_id) == ["low.yaml:5:10: below must be a number, not 'fifty'"]
    sig.sender.post(signal("acme.com", "health_score", 45))  # only the old rule (below 50) fires
    sig.tick(NOW + dt.timedelta(minutes=2))
    [s] = sig.suggestions()
    assert s.rule_key == "low"
