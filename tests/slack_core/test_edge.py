"""The HTTP edge: the signature is checked on the raw bytes before anything is parsed (401
whatever the body's shape), a signed body that no Slack request has is 400, an oversized one
413 — never a 500, never a traceback in the log."""

from __future__ import annotations

import json
import logging
import random
import urllib.parse
from typing import Any

import pytest

from bot.web import parse_form, read_body

FORM = "application/x-www-form-urlencoded"
JUNK: list[tuple[bytes, str]] = [
    (b"payload={not json", FORM),
    (b"payload=%5B1%5D", FORM),  # payload=[1]
    (b'payload={"type": "block_actions", "actions": [{', FORM),  # truncated JSON
    (
        (
            "payload=" + urllib.parse.quote(json.dumps({"type": "block_actions", "actions": [{}]}))
        ).encode(),
        FORM,
    ),
    (b"\xff\xfe\x00garbage", FORM),
    (b"[1, 2, 3]", "application/json"),
    (b"{", "application/json"),
    (b"hello", "text/plain"),
    (b"", FORM),
]


@pytest.mark.parametrize(("body", "content_type"), JUNK)
def test_unsigned_junk_is_401_whatever_its_shape(
    slack_http: Any, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    resp = slack_http.driver.post(body, content_type, sign=False)
    assert resp.status == 401
    stale = slack_http.driver.post(body, content_type, timestamp_offset=-360)
    assert stale.status == 401
    forged = slack_http.driver.post(body, content_type, signature="v0=" + "0" * 64)
    assert forged.status == 401
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


@pytest.mark.parametrize(("body", "content_type"), JUNK)
def test_signed_junk_is_400_never_500(
    slack_http: Any, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    resp = slack_http.driver.post(body, content_type)
    assert resp.status == 400, resp.text
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_an_oversized_body_is_413_before_it_is_read(slack_http: Any) -> None:
    resp = slack_http.driver.post(b"text=" + b"x" * (3 * 1024 * 1024), FORM)
    assert resp.status == 413


def test_real_requests_still_pass(slack_http: Any) -> None:
    assert slack_http.driver.command("/commitments", "").status == 200
    assert slack_http.driver.url_verification("abc").status == 200


def test_read_body_is_pure_and_names_the_fault() -> None:
    assert read_body(b"command=%2Fcase&text=42", FORM) == {"command": "/case", "text": "42"}
    assert read_body(b'{"type": "event_callback"}', "application/json") == {
        "type": "event_callback"
    }
    click = {"type": "block_actions", "actions": [{"action_id": "step_yes"}]}
    assert read_body(("payload=" + urllib.parse.quote(json.dumps(click))).encode(), FORM) == click
    assert read_body(b"payload=%5B1%5D", FORM) == "the payload is not a Slack interaction"
    assert read_body(b"a=b", FORM) == "not a Slack form"
    assert "content type" in str(read_body(b"x", ""))


def test_the_form_parser_reads_what_the_standard_library_reads() -> None:
    """`parse_form` is a faster `parse_qsl`: the same answer for real forms (every character
    escaped, text in several scripts, a plus both as a space and escaped) and for broken
    ones (bad and cut escapes, raw bytes, backslashes, broken UTF-8)."""
    texts = ["Step 2 — call & confirm: 100% + “ok” 🚀", 'a\\b "c" \\x41', "", "x=y&z"]
    forms = [urllib.parse.urlencode({"payload": t, "k": t}) for t in texts]
    rng = random.Random(20261204)
    alphabet = "%+=&abcF09\\xé€ \u00ff"
    forms += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(3000)]
    forms += ["payload=%zz%4", "a=%e2%82", "a=%ED%A0%80", "&&=&a", "=x", "%3D=%26"]
    for form in forms:
        assert parse_form(form) == dict(urllib.parse.parse_qsl(form, keep_blank_values=True)), form


def test_a_command_whose_text_says_payload_reaches_its_listener(slack_http: Any) -> None:
    """Bolt's own parser reads any form containing "payload" as an interaction (and finds
    none): the command would be refused. The edge parses the body, so it is not."""
    resp = slack_http.driver.command("/report-risk", "payload migration at Acme")
    assert resp.status == 200, resp.text
    slack_http.standin.wait_view(resp, callback_id="report_risk_modal")


def test_a_command_answered_at_the_edge_answers_as_bolt_does(slack_http: Any) -> None:
    """Over HTTP a slash command is run from the edge, past Bolt's dispatch
    (`bot.slack.listeners.edge`): for every command the app routes, with and without text,
    the answer is the one Bolt gives the same command sent to the same app in-process."""
    from bot.devtools.standin import SlackDriver
    from bot.devtools.world import CS_CHANNEL, SIGNING_SECRET
    from bot.slack.listeners import listener_modules
    from bot.slack.listeners.edge import commands

    world = slack_http
    names = sorted(commands(listener_modules()))
    assert {"/report-risk", "/case", "/commitments", "/playbooks"} <= set(names)
    bolt = SlackDriver(
        SIGNING_SECRET,
        world.team_id,
        world.standin,
        world.app,
        user_id="U0MAYA",
        channel_id=CS_CHANNEL,
    )
    try:
        for name in names:
            for text in ("", "NoSuchCo", "help", "42", "list"):
                edge, behind_bolt = world.driver.command(name, text), bolt.command(name, text)
                assert (edge.status, edge.json, edge.problems) == (
                    behind_bolt.status,
                    behind_bolt.json,
                    behind_bolt.problems,
                ), (name, text)
                assert edge.status == 200 and edge.headers.get("content-type", "").startswith(
                    behind_bolt.headers.get("content-type", "").split(";")[0]
                ), (name, text, edge.headers, behind_bolt.headers)
    finally:
        bolt.close()
