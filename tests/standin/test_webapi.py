"""The stand-in's Web API as the real slack_sdk client sees it."""

import json
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.devtools.standin import SlackStandin
from bot.devtools.standin.state import DEFAULT_SCOPES
from bot.manifest import bot_scopes


def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


def test_auth_and_unknown_args(standin: SlackStandin, client: WebClient) -> None:
    resp = client.auth_test(team_id="T1")
    assert resp["user_id"] == "UT1BOT" and resp["team_id"] == "T1"
    assert "chat:write" in resp.headers["x-oauth-scopes"]
    bad = WebClient(base_url=standin.api_url, token="xoxb-nope")
    assert error_of(bad.auth_test).response["error"] == "invalid_auth"
    assert error_of(WebClient(base_url=standin.api_url).auth_test).response["error"] == "not_authed"
    call = standin.calls("auth.test")[0]
    assert call.headers["authorization"] == "Bearer <redacted>"
    assert "xoxb-T1" not in json.dumps(call.headers)


def test_users(client: WebClient) -> None:
    user = client.users_info(user="U2")["user"]
    assert user["tz"] == "Europe/Paris" and user["profile"]["email"] == "bob@acme.test"
    assert isinstance(user["tz_offset"], int)
    assert client.users_lookupByEmail(email="ANN@acme.test")["user"]["id"] == "U1"
    assert error_of(lambda: client.users_info(user="U404")).response["error"] == "user_not_found"
    assert (
        error_of(lambda: client.users_lookupByEmail(email="x@y")).response["error"]
        == "users_not_found"
    )
    first = client.users_list(limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    rest = client.users_list(limit=2, cursor=cursor)
    ids = [u["id"] for u in first["members"] + rest["members"]]
    assert sorted(ids) == ["U1", "U2", "U9", "UT1BOT"]
    assert rest["response_metadata"]["next_cursor"] == ""


def test_conversations(standin: SlackStandin, client: WebClient) -> None:
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert dm.startswith("D") and client.conversations_open(users="U1")["channel"]["id"] == dm
    assert standin.dm_channel("U1") == dm
    assert (
        error_of(lambda: client.conversations_open(users="U9")).response["error"] == "user_disabled"
    )
    assert (
        error_of(lambda: client.conversations_open(users="U404")).response["error"]
        == "user_not_found"
    )
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is False
    assert set(client.conversations_members(channel="C1")["members"]) == {"U1", "U2", "UT1BOT"}
    err = error_of(lambda: client.chat_postMessage(channel="C2", text="hi"))
    assert err.response["error"] == "not_in_channel"
    client.conversations_join(channel="C2")
    assert client.chat_postMessage(channel="C2", text="now I can")["ok"]
    assert (
        error_of(lambda: client.chat_postMessage(channel="C404", text="x")).response["error"]
        == "channel_not_found"
    )


def test_messages_threads_update_delete(standin: SlackStandin, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="parent")
    second = client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert [m["text"] for m in standin.thread("C1", first["ts"])] == ["parent", "reply"]
    assert [m["text"] for m in standin.messages("C1")] == ["parent"]
    assert standin.last_message("C1")["text"] == "reply"
    assert error_of(lambda: client.chat_postMessage(channel="C1")).response["error"] == "no_text"
    client.chat_update(channel="C1", ts=first["ts"], text="edited")
    assert standin.messages("C1")[0]["text"] == "edited"
    err = error_of(lambda: client.chat_update(channel="C1", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"
    err = error_of(lambda: client.chat_update(channel="C1", ts=first["ts"], text="x" * 4001))
    assert err.response["error"] == "msg_too_long"
    user_msg = standin.post_user_message("T1", "C1", "U1", "mine")
    err = error_of(lambda: client.chat_update(channel="C1", ts=user_msg["ts"], text="x"))
    assert err.response["error"] == "cant_update_message"
    link = client.chat_getPermalink(channel="C1", message_ts=first["ts"])["permalink"]
    assert first["ts"].replace(".", "") in link
    client.reactions_add(channel="C1", timestamp=first["ts"], name="eyes")
    assert standin.messages("C1")[0]["reactions"][0]["name"] == "eyes"
    client.chat_delete(channel="C1", ts=second["ts"])
    assert standin.thread("C1", first["ts"])[1:] == []
    eph = client.chat_postEphemeral(channel="C1", user="U2", text="psst")
    assert standin.ephemerals(user="U2")[0]["message_ts"] == eph["message_ts"]
    err = error_of(lambda: client.chat_postEphemeral(channel="C1", user="U9", text="x"))
    assert err.response["error"] == "user_not_in_channel"


def test_post_to_user_id_lands_in_dm(standin: SlackStandin, client: WebClient) -> None:
    resp = client.chat_postMessage(channel="U2", text="digest")
    assert resp["channel"] == standin.dm_channel("U2")
    assert standin.messages("U2")[0]["text"] == "digest"


def test_invalid_blocks_with_slack_error_format(client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    err = error_of(lambda: client.chat_postMessage(channel="C1", text="t", blocks=blocks))
    assert err.response["error"] == "invalid_blocks"
    assert err.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]


def test_form_encoded_blocks_string(standin: SlackStandin) -> None:
    blocks = json.dumps([{"type": "divider"}])
    resp = httpx.post(
        standin.api_url + "chat.postMessage",
        data={"channel": "C1", "text": "f", "blocks": blocks, "token": "xoxb-T1"},
    )
    assert resp.json()["ok"] is True
    assert standin.last_message("C1")["blocks"] == [{"type": "divider"}]
    resp = httpx.post(
        standin.api_url + "chat.postMessage",
        data={"channel": "C1", "blocks": "[not json", "token": "xoxb-T1"},
    )
    assert resp.json()["error"] == "invalid_blocks_format"


def modal(title: str = "Report risk", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "risk",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
        **extra,
    }


def test_views_trigger_rules_and_stack(standin: SlackStandin, client: WebClient) -> None:
    trigger = standin.new_trigger_id("U1", "T1")
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "risk"
    assert (
        error_of(lambda: client.views_open(trigger_id=trigger, view=modal())).response["error"]
        == "exchanged_trigger_id"
    )
    assert (
        error_of(lambda: client.views_open(trigger_id="1.2.x", view=modal())).response["error"]
        == "invalid_trigger_id"
    )
    for _ in range(2):
        client.views_push(trigger_id=standin.new_trigger_id("U1", "T1"), view=modal())
    assert len(standin.open_views("U1")) == 3
    err = error_of(lambda: client.views_push(trigger_id=standin.new_trigger_id("U1"), view=modal()))
    assert err.response["error"] == "push_limit_reached"
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal("New"))
    assert updated["view"]["title"]["text"] == "New" and updated["view"]["id"] == view["id"]
    err = error_of(lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=modal()))
    assert err.response["error"] == "hash_conflict"
    err = error_of(
        lambda: client.views_open(trigger_id=standin.new_trigger_id("U1"), view=modal("x" * 25))
    )
    assert err.response["error"] == "invalid_arguments"
    assert (
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
        in err.response["response_metadata"]["messages"]
    )


def test_expired_trigger() -> None:
    with SlackStandin(trigger_ttl=0.0) as s:
        s.add_team("T1", "Acme")
        s.add_user("T1", "U1", "ann")
        client = WebClient(base_url=s.api_url, token="xoxb-T1")
        err = error_of(lambda: client.views_open(trigger_id=s.new_trigger_id("U1"), view=modal()))
        assert err.response["error"] == "expired_trigger_id"


def test_trigger_clock_runs_from_sending_to_arrival() -> None:
    """Slack's clock starts when it sends the interaction and stops when views.open reaches
    it: a trigger minted early (a payload built before it was sent) or a request served late
    (a busy process) must not look older than it is."""
    with SlackStandin(trigger_ttl=30.0) as s:
        s.add_team("T1", "Acme")
        s.add_user("T1", "U1", "ann")
        client = WebClient(base_url=s.api_url, token="xoxb-T1")
        early = s.new_trigger_id("U1")
        s.state.triggers[early].created -= 60  # minted a minute before anything was sent
        err = error_of(lambda: client.views_open(trigger_id=early, view=modal()))
        assert err.response["error"] == "expired_trigger_id"
        sent = s.new_trigger_id("U1")
        s.state.triggers[sent].created -= 60
        s.trigger_sent(sent)  # what the driver does as the payload leaves
        assert client.views_open(trigger_id=sent, view=modal())["ok"]

        late = s.new_trigger_id("U1")
        s.state.triggers[late].created -= 60
        body = json.dumps({"trigger_id": late, "view": modal()}).encode()
        headers = {"content-type": "application/json", "authorization": "Bearer xoxb-T1"}
        arrived = s.state.triggers[late].created + 1  # arrived in time, served a minute on
        reply = s.handle("POST", "/api/views.open", headers, body, received=arrived)
        assert json.loads(reply.body)["ok"] is True


def test_home_publish_and_external_id_update(standin: SlackStandin, client: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"] and standin.home_view("U1")["hash"] == again["hash"]
    err = error_of(lambda: client.views_publish(user_id="U1", view=home, hash=first["hash"]))
    assert err.response["error"] == "hash_conflict"
    view = client.views_open(
        trigger_id=standin.new_trigger_id("U1"), view=modal(external_id="case-7")
    )["view"]
    client.views_update(external_id="case-7", view=modal("Edited", external_id="case-7"))
    assert standin.view(view["id"])["title"]["text"] == "Edited"


def test_files_info_download_with_and_without_token(
    standin: SlackStandin, client: WebClient
) -> None:
    standin.add_file(
        "T1",
        "F1",
        "call.vtt",
        b"WEBVTT\n\n00:00.000 --> 00:01.000\nHi",
        "text/vtt",
        user="U1",
        channels=["C1"],
    )
    info = client.files_info(file="F1")["file"]
    assert info["url_private_download"].startswith(standin.url)
    assert info["size"] == 34 and info["channels"] == ["C1"]
    ok = httpx.get(info["url_private_download"], headers={"Authorization": "Bearer xoxb-T1"})
    assert ok.status_code == 200 and ok.content.startswith(b"WEBVTT")
    assert ok.headers["content-type"] == "text/vtt"
    anon = httpx.get(info["url_private"])
    assert anon.status_code == 200 and anon.headers["content-type"].startswith("text/html")
    assert [c.args["authorized"] for c in standin.calls("file_download")] == [True, False]
    assert error_of(lambda: client.files_info(file="F404")).response["error"] == "file_not_found"


def test_upload_v2_flow_and_injected_failure(standin: SlackStandin, client: WebClient) -> None:
    resp = client.files_upload_v2(
        channel="C1",
        content="summary text",
        filename="s.txt",
        title="Summary",
        initial_comment="here",
    )
    file_id = resp["files"][0]["id"]
    uploads = standin.uploads()
    assert uploads[0]["file_id"] == file_id and uploads[0]["content"] == b"summary text"
    assert uploads[0]["channel_id"] == "C1"
    assert standin.last_message("C1")["files"][0]["id"] == file_id
    assert standin.calls("upload")[0].status == 200
    standin.fail("files.completeUploadExternal", "internal_error")
    err = error_of(lambda: client.files_upload_v2(channel="C1", content="x", filename="x.txt"))
    assert err.response["error"] == "internal_error"
    assert len(standin.uploads()) == 1


def test_ratelimit_injection_and_retry_handler(standin: SlackStandin) -> None:
    plain = WebClient(base_url=standin.api_url, token="xoxb-T1")
    standin.fail("chat.postMessage", "ratelimited", retry_after=0)
    err = error_of(lambda: plain.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 429 and err.response.headers["retry-after"] == "0"
    retrying = WebClient(
        base_url=standin.api_url,
        token="xoxb-T1",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail("chat.postMessage", retry_after=0)
    assert retrying.chat_postMessage(channel="C1", text="after retry")["ok"]
    assert [c.status for c in standin.calls("chat.postMessage")] == [429, 429, 200]


def test_http_status_fault_and_control_endpoint(standin: SlackStandin, client: WebClient) -> None:
    httpx.post(standin.url + "/_control/fault", json={"method": "users.info", "status": 503})
    err = error_of(lambda: client.users_info(user="U1"))
    assert err.response.status_code == 503
    assert client.users_info(user="U1")["ok"]


def test_channel_rate_limit_when_enforced() -> None:
    with SlackStandin(enforce_channel_rate=True, channel_rate=0.001, channel_burst=2) as s:
        s.add_team("T1", "Acme")
        s.add_channel("T1", "C1", "c")
        client = WebClient(base_url=s.api_url, token="xoxb-T1")
        client.chat_postMessage(channel="C1", text="1")
        client.chat_postMessage(channel="C1", text="2")
        err = error_of(lambda: client.chat_postMessage(channel="C1", text="3"))
        assert err.response.status_code == 429 and err.response.headers["retry-after"] == "1"


def test_missing_scope() -> None:
    with SlackStandin() as s:
        s.add_team("T1", "Acme", scopes=["chat:write"])
        s.add_user("T1", "U1", "ann")
        err = error_of(lambda: WebClient(base_url=s.api_url, token="xoxb-T1").users_info(user="U1"))
        assert err.response["error"] == "missing_scope"
        assert err.response["needed"] == "users:read"


def test_multi_workspace_isolation(standin: SlackStandin) -> None:
    standin.add_team("T2", "Other")
    other = WebClient(base_url=standin.api_url, token="xoxb-T2")
    assert (
        error_of(lambda: other.chat_postMessage(channel="C1", text="x")).response["error"]
        == "channel_not_found"
    )
    assert error_of(lambda: other.users_info(user="U1")).response["error"] == "user_not_found"
    assert standin.calls(team_id="T2")[0].method == "chat.postMessage"


def test_a_default_token_has_every_scope_the_manifest_asks_for() -> None:
    """Otherwise every app started against the stand-in warns that its token lacks scopes."""
    assert set(bot_scopes()) <= set(DEFAULT_SCOPES)
