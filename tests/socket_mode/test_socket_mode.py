"""Smoke test: the real app in Socket Mode (Bolt's SocketModeHandler, slack_sdk's builtin client)
against the stand-in: connect via apps.connections.open, envelopes in, acks and replies out."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_bolt import Ack
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from sqlmodel import select

from bot.devtools.standin.socket_driver import SocketModeDriver
from bot.devtools.world import CS_CHANNEL, World
from bot.models import ProcessedEvent
from bot.slack.listeners.help import HELP

APP_TOKEN = "xapp-1-test"
PING = "/socket-smoke"  # the app registers no slash command yet; the test adds one


def close_quickly(handler: SocketModeHandler) -> None:
    """Close without idling: slack_sdk's message processor polls its queue for up to 1 s
    before it notices `closed`, so wake it with an empty message."""
    handler.client.closed = True
    handler.client.message_queue.put(None)
    handler.close()


def lingering_threads(before: set[threading.Thread]) -> list[str]:
    """Threads started since `before` that would keep the process alive (or hold a socket)."""
    return [
        t.name
        for t in set(threading.enumerate()) - before
        if t.is_alive() and (not t.daemon or t.name.startswith("slack-standin"))
    ]


class SocketWorld:
    def __init__(self, world: World) -> None:
        self.world = world
        self.standin = world.standin
        self.handler = SocketModeHandler(world.app, APP_TOKEN)
        self.driver = SocketModeDriver(
            world.team_id, world.standin, user_id="U0MAYA", channel_id=CS_CHANNEL
        )

    def drain(self) -> None:
        """Stop taking envelopes and wait until every dispatched listener has finished."""
        close_quickly(self.handler)
        self.world.app.listener_runner.listener_executor.shutdown(wait=True)


@pytest.fixture
def sm(database_url: str) -> Iterator[SocketWorld]:
    before = set(threading.enumerate())
    world = World(database_url).start()
    world.standin.add_app_token(world.team_id, APP_TOKEN)

    @world.app.command(PING)
    def ping(ack: Ack, command: dict) -> None:
        ack(text=f"pong {command['text']}")

    env = SocketWorld(world)
    try:
        env.handler.connect()
        yield env
    finally:
        close_quickly(env.handler)
        world.stop()
    assert lingering_threads(before) == []


def test_connects_through_apps_connections_open(sm: SocketWorld) -> None:
    (call,) = sm.standin.calls("apps.connections.open")
    assert call.ok and call.team_id == "T0TEST"
    assert sm.standin.socket_mode.wait_connects(1) == 1
    assert sm.handler.client.is_connected()


def test_app_mention_is_acked_and_answered_in_thread(sm: SocketWorld) -> None:
    resp = sm.driver.app_mention("what can you do?")
    assert resp.status == 200, resp.problems
    assert resp.json is None  # events are acked with an empty envelope
    mention = sm.standin.messages(CS_CHANNEL)[-1]
    sm.standin.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == mention["ts"])
    (post,) = sm.standin.calls("chat.postMessage")
    assert post.ok and post.args["text"] == HELP
    assert post.args["thread_ts"] == mention["ts"]
    assert sm.standin.thread(CS_CHANNEL, mention["ts"])[-1]["text"] == HELP


def test_slash_command_envelope_is_acked_with_the_reply(sm: SocketWorld) -> None:
    resp = sm.driver.command(PING, "hello")
    assert resp.status == 200
    assert resp.json == {"text": "pong hello"}
    (shown,) = sm.standin.ephemerals(CS_CHANNEL, "U0MAYA")
    assert shown["text"] == "pong hello"


def test_unhandled_slash_command_gets_no_ack(sm: SocketWorld) -> None:
    """Bolt acks only a 200 dispatch: an unknown command stays un-acked (Slack then times out)."""
    sm.driver.ack_timeout = 0.5
    resp = sm.driver.command("/no-such-command")
    assert resp.status == 0
    assert resp.headers["x-envelope-id"] not in sm.standin.socket_mode.acks
    assert sm.standin.ephemerals() == []


def test_retried_event_is_acked_and_ignored(sm: SocketWorld) -> None:
    first = sm.driver.app_mention("help")
    assert first.status == 200
    mention = sm.standin.messages(CS_CHANNEL)[-1]
    sm.standin.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == mention["ts"])
    retry = sm.driver.redeliver(first, retry_num=1, retry_reason="timeout")
    assert retry.status == 200  # acked, so Slack stops retrying
    sent = sm.standin.socket_mode.sent
    assert [e["retry_attempt"] for e in sent] == [0, 1]
    assert sent[0]["payload"]["event_id"] == sent[1]["payload"]["event_id"] == first.event_id
    sm.drain()
    assert len(sm.standin.calls("chat.postMessage")) == 1
    with sm.world.session() as s:
        seen = s.exec(select(ProcessedEvent.event_id)).all()
    assert seen == [first.event_id]


def test_reconnects_when_slack_asks_to_refresh(sm: SocketWorld) -> None:
    sm.standin.socket_mode.wait_connects(1)
    assert sm.standin.socket_mode.disconnect("refresh_requested") == 1
    sm.standin.socket_mode.wait_connects(2)
    assert len(sm.standin.calls("apps.connections.open")) == 2
    resp = sm.driver.app_mention("still there?")
    assert resp.status == 200
    mention = sm.standin.messages(CS_CHANNEL)[-1]
    (post,) = sm.standin.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == mention["ts"]
    )
    assert post.args["text"] == HELP


def test_wrong_app_token_fails_to_connect(database_url: str) -> None:
    with World(database_url) as world:
        world.standin.add_app_token(world.team_id, APP_TOKEN)
        handler = SocketModeHandler(world.app, "xapp-1-wrong")
        try:
            with pytest.raises(SlackApiError) as exc:
                handler.connect()
        finally:
            close_quickly(handler)
        assert exc.value.response["error"] == "invalid_auth"
        assert world.standin.socket_mode.connects == 0
