"""The stand-in's Socket Mode side alone: apps.connections.open, tickets, hello, envelopes, acks.

A plain `websockets` client plays the app here; the Bolt app is in test_socket_mode.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.devtools.standin import SlackStandin
from bot.devtools.standin.payloads import command_form, event_envelope, interaction_form
from bot.devtools.standin.socket_mode import envelope_for_request, socket_envelope

APP_TOKEN = "xapp-1-A0FOLLOWTH-1-secret"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        s.add_team("T1", "Acme CS")
        s.add_app_token("T1", APP_TOKEN)
        yield s


def open_url(standin: SlackStandin, token: str = APP_TOKEN) -> str:
    return WebClient(base_url=standin.api_url).apps_connections_open(app_token=token)["url"]


def test_connections_open_gives_a_link_url_for_the_app_token(standin: SlackStandin) -> None:
    url = open_url(standin)
    assert url.startswith(f"ws://127.0.0.1:{standin.socket_mode.port}/link/?ticket=")
    call = standin.calls("apps.connections.open")[0]
    assert call.team_id == "T1" and call.ok
    assert APP_TOKEN not in json.dumps(call.headers)


@pytest.mark.parametrize(
    ("token", "error"), [("xapp-1-wrong", "invalid_auth"), ("xoxb-T1", "not_allowed_token_type")]
)
def test_connections_open_refuses_other_tokens(
    standin: SlackStandin, token: str, error: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        open_url(standin, token)
    assert exc.value.response["error"] == error


def test_connections_open_honours_faults(standin: SlackStandin) -> None:
    standin.fail("apps.connections.open", "ratelimited", retry_after=0)
    client = WebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError) as exc:
        client.apps_connections_open(app_token=APP_TOKEN)
    assert exc.value.response.status_code == 429


def test_hello_then_envelopes_and_acks(standin: SlackStandin) -> None:
    with connect(open_url(standin), open_timeout=30) as ws:
        hello = json.loads(ws.recv(timeout=30))
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0FOLLOWTH"}
        envelope_id = standin.socket_send(socket_envelope("events_api", {"type": "x"}))
        received = json.loads(ws.recv(timeout=30))
        assert received["envelope_id"] == envelope_id
        assert received["retry_attempt"] == 0 and received["retry_reason"] == ""
        ws.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "ok"}}))
        assert standin.socket_wait_ack(envelope_id) == {
            "envelope_id": envelope_id,
            "payload": {"text": "ok"},
        }


def test_ticket_is_single_use_and_path_is_checked(standin: SlackStandin) -> None:
    url = open_url(standin)
    with connect(url, open_timeout=30) as ws:
        ws.recv(timeout=30)
    with pytest.raises(InvalidStatus) as used:
        connect(url, open_timeout=30)
    assert used.value.response.status_code == 401
    other_path = open_url(standin).replace("/link/", "/elsewhere/")
    with pytest.raises(InvalidStatus) as wrong:
        connect(other_path, open_timeout=30)
    assert wrong.value.response.status_code == 404


def test_disconnect_is_sent_to_the_client(standin: SlackStandin) -> None:
    with connect(open_url(standin), open_timeout=30) as ws:
        ws.recv(timeout=30)
        standin.socket_mode.wait_connects(1)
        assert standin.socket_mode.disconnect("refresh_requested") == 1
        assert json.loads(ws.recv(timeout=30))["reason"] == "refresh_requested"


def test_send_without_a_connection_times_out(standin: SlackStandin) -> None:
    with pytest.raises(TimeoutError):
        standin.socket_send(socket_envelope("events_api", {}), timeout=0.05)


def test_envelopes_carry_the_http_payloads_unchanged() -> None:
    event = event_envelope(
        {"type": "app_mention", "text": "hi"},
        team_id="T1",
        api_app_id="A1",
        bot_user_id="UB",
        event_id="Ev1",
    )
    as_event = envelope_for_request(
        json.dumps(event).encode(),
        "application/json",
        {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "timeout"},
    )
    assert (as_event["type"], as_event["payload"]) == ("events_api", event)
    assert (as_event["retry_attempt"], as_event["retry_reason"]) == (2, "timeout")
    assert as_event["accepts_response_payload"] is False

    form = command_form({"command": "/commitments", "text": "", "team_id": "T1"})
    as_command = envelope_for_request(form, "application/x-www-form-urlencoded")
    assert as_command["type"] == "slash_commands"
    assert as_command["payload"] == {"team_id": "T1", "command": "/commitments", "text": ""}
    assert as_command["accepts_response_payload"] is True and "retry_attempt" not in as_command

    click = {"type": "block_actions", "actions": [{"action_id": "a"}]}
    as_click = envelope_for_request(interaction_form(click), "application/x-www-form-urlencoded")
    assert (as_click["type"], as_click["payload"]) == ("interactive", click)
    assert as_click["accepts_response_payload"] is False
    submit = envelope_for_request(
        interaction_form({"type": "view_submission"}), "application/x-www-form-urlencoded"
    )
    assert submit["accepts_response_payload"] is True
