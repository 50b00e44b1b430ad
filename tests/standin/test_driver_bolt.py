"""A real Bolt app driven through the signed-request driver, via dispatch and over HTTP."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError

from bot.devtools.standin import SlackDriver, SlackStandin

SECRET = "test-signing-secret"  # same as conftest's; test modules cannot import conftest


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True


@pytest.fixture
def http_url(app: App) -> Iterator[str]:
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    server.server_close()


def risk_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "risk",
        "title": {"type": "plain_text", "text": "Report risk"},
        "submit": {"type": "plain_text", "text": "Save"},
        "private_metadata": "acct-42",
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why"},
                "element": {"type": "plain_text_input", "action_id": "text"},
            },
            {
                "type": "input",
                "block_id": "level",
                "label": {"type": "plain_text", "text": "Level"},
                "element": {
                    "type": "static_select",
                    "action_id": "pick",
                    "options": [
                        {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                        {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "owner",
                "optional": True,
                "label": {"type": "plain_text", "text": "Owner"},
                "element": {"type": "users_select", "action_id": "who"},
            },
            {
                "type": "input",
                "block_id": "due",
                "label": {"type": "plain_text", "text": "Due"},
                "element": {"type": "datepicker", "action_id": "day"},
            },
        ],
    }


def test_slash_command_via_dispatch(standin: SlackStandin, app: App, driver: SlackDriver) -> None:
    seen: dict[str, Any] = {}

    @app.command("/report-risk")
    def handle(ack: Any, body: dict[str, Any]) -> None:
        seen.update(body)
        ack("Opening…")

    resp = driver.command("/report-risk", "Acme Corp")
    assert resp.status == 200 and resp.body_text == "Opening…"
    assert seen["text"] == "Acme Corp" and seen["team_id"] == "T1" and seen["user_id"] == "U1"
    assert seen["response_url"].startswith(standin.url + "/response/")
    assert standin.ephemerals(user="U1")[0]["text"] == "Opening…"
    assert resp.elapsed > 0


def test_slash_command_over_http_and_signature_failures(
    standin: SlackStandin, app: App, http_url: str
) -> None:
    @app.command("/report-risk")
    def handle(ack: Any) -> None:
        ack()

    with SlackDriver(SECRET, "T1", standin, http_url, user_id="U1", channel_id="C1") as drv:
        assert drv.command("/report-risk", "x").status == 200
        assert drv.command("/report-risk", signature="v0=bad").status == 401
        assert drv.command("/report-risk", timestamp_offset=-360).status == 401
        assert drv.command("/report-risk", sign=False).status == 401
    wrong = SlackDriver("not-the-secret", "T1", standin, app, user_id="U1", channel_id="C1")
    assert wrong.command("/report-risk").status == 401


def test_listener_posting_51_blocks_gets_invalid_blocks(
    standin: SlackStandin, app: App, driver: SlackDriver
) -> None:
    @app.command("/big")
    def handle(ack: Any, client: Any) -> None:
        ack()
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C1", text="big", blocks=[{"type": "divider"}] * 51)

    driver.command("/big")
    call = standin.wait_for("chat.postMessage", lambda c: c.args.get("text") == "big")[0]
    assert call.error == "invalid_blocks"
    assert call.args["team_id"] == "T1"  # Bolt adds team_id; the stand-in ignores it
    assert standin.messages("C1") == []


def test_modal_open_submit_errors_update_push_clear(
    standin: SlackStandin, app: App, driver: SlackDriver
) -> None:
    submitted: list[dict[str, Any]] = []

    @app.command("/report-risk")
    def handle(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=risk_modal())

    @app.view(re.compile("risk|confirm|updated"))
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        submitted.append(values)
        reason = values["reason"]["text"]["value"] or ""
        if reason == "please update":
            ack(response_action="update", view={**risk_modal(), "callback_id": "updated"})
        elif reason == "please clear":
            ack(response_action="clear")
        elif len(reason) < 5:
            ack(response_action="errors", errors={"reason": "Too short"})
        elif values["level"]["pick"]["selected_option"]["value"] == "high":
            ack(response_action="push", view={**risk_modal(), "callback_id": "confirm"})
        else:
            ack()

    resp = driver.command("/report-risk")
    call = standin.wait_for("views.open", lambda c: c.args.get("trigger_id") == resp.trigger_id)[0]
    assert call.ok, call.response
    trigger = resp.trigger_id
    view = standin.open_views("U1")[0]
    assert view["private_metadata"] == "acct-42"

    short = driver.view_submission(view, {"reason": "no", "level": "low", "due": "2030-01-31"})
    assert short.json == {"response_action": "errors", "errors": {"reason": "Too short"}}
    assert standin.view_errors[view["id"]] == {"reason": "Too short"}
    assert len(standin.open_views("U1")) == 1
    values = submitted[0]
    assert values["level"]["pick"]["selected_option"]["text"]["text"] == "Low"
    assert values["owner"]["who"] == {"type": "users_select", "selected_user": None}
    assert values["due"]["day"] == {"type": "datepicker", "selected_date": "2030-01-31"}

    driver.view_submission(
        view, {"reason": "renewal at risk", "level": "high", "owner": "U2", "due": "2030-01-31"}
    )
    assert [v["callback_id"] for v in standin.open_views("U1")] == ["risk", "confirm"]
    assert submitted[1]["owner"]["who"]["selected_user"] == "U2"

    top = standin.open_views("U1")[-1]
    driver.view_submission(top, {"reason": "fine now", "level": "low", "due": "2030-02-01"})
    assert [v["callback_id"] for v in standin.open_views("U1")] == ["risk"]

    driver.view_submission(view, {"reason": "please update", "level": "low", "due": "2030-02-01"})
    assert [v["callback_id"] for v in standin.open_views("U1")] == ["updated"]
    assert standin.open_views("U1")[0]["id"] == view["id"]
    driver.view_submission(view, {"reason": "high again", "level": "high", "due": "2030-02-01"})
    assert len(standin.open_views("U1")) == 2
    driver.view_submission(view, {"reason": "please clear", "level": "low", "due": "2030-02-01"})
    assert standin.open_views("U1") == []

    from slack_sdk import WebClient

    client = WebClient(base_url=standin.api_url, token="xoxb-T1")
    with pytest.raises(Exception, match="exchanged_trigger_id"):
        client.views_open(trigger_id=trigger, view=risk_modal())


def test_button_in_message_and_response_url_replace(
    standin: SlackStandin, app: App, driver: SlackDriver
) -> None:
    @app.action("confirm")
    def on_confirm(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        assert body["actions"][0]["value"] == "c-7"
        respond(text="Confirmed ✓", replace_original=True)

    client_resp = app.client.chat_postMessage(
        channel="C1",
        text="Commitment",
        blocks=[
            {
                "type": "actions",
                "block_id": "act",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "confirm",
                        "value": "c-7",
                        "text": {"type": "plain_text", "text": "Confirm"},
                    }
                ],
            }
        ],
    )
    message = standin.messages("C1")[0]
    assert message["ts"] == client_resp["ts"]
    resp = driver.block_action("confirm", message=message)
    assert resp.status == 200
    standin.wait_reply(resp, "Confirmed ✓")
    assert standin.messages("C1")[0]["text"] == "Confirmed ✓"
    assert standin.messages("C1")[0]["blocks"] == []
    with pytest.raises(LookupError):
        driver.block_action("not-rendered", message=message)


def test_response_url_use_limit(standin: SlackStandin) -> None:
    import httpx

    url = standin.new_response_url("T1", "U1", "C1")
    codes = [httpx.post(url, json={"text": f"n{i}"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [404]
    assert len(standin.ephemerals(user="U1")) == 5


def test_events_retries_files_home_and_mentions(
    standin: SlackStandin, app: App, driver: SlackDriver
) -> None:
    """Listeners report through Slack calls, so the test waits on the recorder, not on sleeps."""

    @app.event("file_shared")
    def on_file(event: dict[str, Any], body: dict[str, Any], client: Any, request: Any) -> None:
        name = client.files_info(file=event["file_id"])["file"]["name"]
        attempt = (request.headers.get("x-slack-retry-num") or ["0"])[0]
        client.chat_postMessage(channel="C1", text=f"{name} {body['event_id']} #{attempt}")

    @app.message("")
    def on_message(message: dict[str, Any], client: Any) -> None:
        name = "paperclip" if message.get("subtype") == "file_share" else "eyes"
        client.reactions_add(channel=message["channel"], timestamp=message["ts"], name=name)

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], client: Any) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Your commitments"}}
                ],
            },
        )

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text="on it", thread_ts=event["ts"])

    standin.add_file("T1", "F1", "call.vtt", b"WEBVTT", "text/vtt", user="U1", channels=["C1"])
    first = driver.file_shared("F1")
    assert first.status == 200 and first.event_id
    retry = driver.redeliver(first, retry_num=1, retry_reason="http_timeout")
    assert retry.status == 200 and retry.event_id == first.event_id
    for attempt in (0, 1):  # the first delivery and the retry, each handled
        wanted = f"call.vtt {first.event_id} #{attempt}"
        standin.wait_for("chat.postMessage", lambda c, w=wanted: c.args.get("text") == w)
    posts = [c.args["text"] for c in standin.calls("chat.postMessage")]
    assert sorted(posts) == [f"call.vtt {first.event_id} #0", f"call.vtt {first.event_id} #1"]

    assert driver.file_share_message(["F1"], text="transcript").status == 200
    shared = [m for m in standin.messages("C1") if m.get("subtype") == "file_share"]
    reaction = standin.wait_for(
        "reactions.add", lambda c: c.args.get("timestamp") == shared[0]["ts"]
    )[0]
    assert reaction.args["name"] == "paperclip"
    assert shared[0]["files"][0]["id"] == "F1" and shared[0]["ts"] == reaction.args["timestamp"]

    assert driver.app_home_opened().status == 200
    home = standin.wait_home("U1", lambda h: bool(h.get("blocks")))
    assert "Your commitments" in home["blocks"][0]["text"]["text"]

    assert driver.app_mention("please summarise").status == 200
    reply = standin.wait_for("chat.postMessage", lambda c: c.args.get("text") == "on it")[-1]
    mention_ts = reply.args["thread_ts"]
    assert standin.thread("C1", mention_ts)[-1]["text"] == "on it"

    # The bot's own message comes back as an event; Bolt drops it synchronously, so after a
    # later user message has been handled there must still be only that one new reaction.
    assert driver.echo_bot_message(standin.last_message("C1")).status == 200
    driver.message("thanks")
    thanks = next(m for m in standin.messages("C1") if m["text"] == "thanks")
    standin.wait_for("reactions.add", lambda c: c.args.get("timestamp") == thanks["ts"])
    reactions = standin.calls("reactions.add")
    assert [c.args["name"] for c in reactions] == ["paperclip", "eyes"]
    assert len(reactions) == 2


def test_shortcuts_and_suggestions(standin: SlackStandin, app: App, driver: SlackDriver) -> None:
    @app.shortcut("capture")
    def on_shortcut(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "acct",
                "notify_on_close": True,
                "title": {"type": "plain_text", "text": "Account"},
                "submit": {"type": "plain_text", "text": "Save"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "acct",
                        "label": {"type": "plain_text", "text": "Account"},
                        "element": {"type": "external_select", "action_id": "find"},
                    }
                ],
            },
        )

    @app.options("find")
    def on_options(ack: Any, payload: dict[str, Any]) -> None:
        ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": f"{payload['value']} Corp"},
                    "value": "acct_42",
                }
            ]
        )

    @app.view_closed("acct")
    def on_closed(ack: Any) -> None:
        ack()

    @app.shortcut("from_message")
    def on_message_shortcut(ack: Any, shortcut: dict[str, Any], respond: Any) -> None:
        ack()
        respond(text=f"Captured: {shortcut['message']['text']}", replace_original=False)

    opened = driver.shortcut("capture")
    assert opened.status == 200
    view = standin.wait_view(opened, callback_id="acct")
    assert standin.open_views("U1")[0]["id"] == view["id"]
    options = driver.block_suggestion("find", "Acme", view=view)
    assert options.json["options"][0]["text"]["text"] == "Acme Corp"
    assert driver.view_closed(view).status == 200
    assert standin.open_views("U1") == []

    msg = standin.post_user_message("T1", "C1", "U2", "I will send the deck by Friday")
    captured = driver.message_shortcut("from_message", msg)
    assert captured.status == 200
    standin.wait_reply(captured, "Captured:")
    assert standin.ephemerals(user="U1")[-1]["text"].startswith("Captured: I will send")


def test_unhandled_request_is_404(driver: SlackDriver) -> None:
    assert driver.command("/nobody-listens").status == 404
