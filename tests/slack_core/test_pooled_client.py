"""The Web API client keeps its connections alive and answers like slack_sdk's own: retries
429 after Retry-After and 5xx, raises what slack_sdk raises, and the outbox's no-retry posts
stay no-retry. Against the Slack stand-in over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import load_settings
from bot.devtools.standin import SlackStandin
from bot.notify import DeliveryError
from bot.slack.client import make_client
from bot.slack.outbound import SlackNotifier
from bot.slack.pooled import PooledWebClient, pooled

TEAM = "T0POOL"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        s.add_team(TEAM, "Pool")
        s.add_user(TEAM, "U1", "maya")
        s.add_channel(TEAM, "C1", "general", ["U1"])
        yield s


def client(standin: SlackStandin, **settings: object) -> WebClient:
    return make_client(
        load_settings(
            slack_bot_token=f"xoxb-{TEAM}",
            slack_api_url=standin.api_url,
            _env_file=None,
            **settings,
        )
    )


def test_calls_reuse_one_connection(standin: SlackStandin) -> None:
    c = client(standin)
    assert isinstance(c, PooledWebClient)
    before = standin.connections
    for n in range(20):
        assert c.chat_postMessage(channel="C1", text=f"hello {n}")["ok"]
    assert standin.connections - before <= 1
    plain = WebClient(token=f"xoxb-{TEAM}", base_url=standin.api_url)
    before = standin.connections
    for _ in range(5):
        plain.auth_test()
    assert standin.connections - before == 5  # what slack_sdk's urllib transport does


def test_rate_limits_and_server_errors_are_retried(standin: SlackStandin) -> None:
    c = client(standin)
    standin.fail("chat.postMessage", "ratelimited", retry_after=0, times=1)
    assert c.chat_postMessage(channel="C1", text="after a 429")["ok"]
    standin.fail("chat.postMessage", status=503, times=1)
    assert c.chat_postMessage(channel="C1", text="after a 503")["ok"]
    texts = [m["text"] for m in standin.messages("C1")]
    assert texts.count("after a 429") == 1 and texts.count("after a 503") == 1


def test_errors_are_what_slack_sdk_raises(standin: SlackStandin) -> None:
    c = client(standin)
    with pytest.raises(SlackApiError) as refused:
        c.chat_postMessage(channel="C404", text="nowhere")
    assert refused.value.response["error"] == "channel_not_found"
    standin.fail("chat.postMessage", status=500, times=None)
    with pytest.raises(SlackApiError) as broken:
        c.chat_postMessage(channel="C1", text="down")
    assert broken.value.response.status_code == 500
    standin.clear_faults()
    standin.fail("auth.test", timeout_seconds=2.0)
    slow = pooled(c, timeout=1, retry_handlers=[])
    with pytest.raises(TimeoutError):
        slow.auth_test()


def test_an_unreachable_slack_is_a_connection_error(standin: SlackStandin) -> None:
    c = pooled(client(standin), base_url="http://127.0.0.1:9/api/", retry_handlers=[])
    with pytest.raises(URLError):
        c.auth_test()


def test_outbox_posts_are_never_retried_by_the_client(standin: SlackStandin) -> None:
    notifier = SlackNotifier(client(standin))
    once = notifier.once(TEAM)
    assert isinstance(once, PooledWebClient) and once.retry_handlers == []
    standin.fail("chat.postMessage", status=503, times=1)
    meta = {"event_type": "followthrough_outbound", "event_payload": {"key": "k1", "try": 1}}
    with pytest.raises(DeliveryError) as failed:
        notifier.post(TEAM, "C1", "once", metadata=meta)
    assert failed.value.uncertain and failed.value.retryable
    assert [m for m in standin.messages("C1") if m["text"] == "once"] == []


def test_a_connection_the_server_closed_is_not_reused() -> None:
    """A load balancer closes idle kept-alive connections: the next call must not be sent on
    one (it would fail as a broken connection, and a post could not be told apart from one
    Slack received), but on a new connection."""
    import json
    import socketserver
    import threading

    accepted: list[int] = []
    closed = threading.Event()

    class AnswerOnceThenClose(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            accepted.append(1)
            length = 0
            while (line := self.rfile.readline().strip()) != b"":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            self.rfile.read(length)
            body = json.dumps({"ok": True, "user_id": "U1"}).encode()
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            # ... and the connection is closed, as an idle timeout would

    class Server(socketserver.ThreadingTCPServer):
        def shutdown_request(self, request: object) -> None:
            super().shutdown_request(request)
            closed.set()

    with Server(("127.0.0.1", 0), AnswerOnceThenClose) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        try:
            port = server.server_address[1]
            c = PooledWebClient(
                token="xoxb-x", base_url=f"http://127.0.0.1:{port}/api/", retry_handlers=[]
            )
            assert c.auth_test()["user_id"] == "U1"
            assert closed.wait(10)
            assert c.auth_test()["user_id"] == "U1"  # the closed connection was dropped
            assert len(accepted) == 2
        finally:
            server.shutdown()
