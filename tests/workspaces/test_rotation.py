"""Token rotation: 12-hour bot tokens are refreshed before they expire — once, however many
threads need the token at that moment — for the worker's sends and for inbound requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.devtools.installs import Installs
from tests.workspaces.conftest import ACME


@pytest.fixture
def rotating(database_url: str) -> Iterator[Installs]:
    # The first token lives one hour: inside the app's 2-hour refresh window from the start.
    with Installs(database_url, token_rotation=True, token_lifetime=3600) as inst:
        team_id, name, people, channel = ACME
        inst.add_workspace(team_id, name, people, channel)
        inst.install(team_id, "U0ANN")
        inst.standin.oauth.apps[inst.settings.slack_client_id].token_lifetime = 43_200
        yield inst


def _refreshes(inst: Installs) -> list:
    return [c for c in inst.standin.calls("oauth.v2.access") if c.args.get("grant_type")]


def test_an_expiring_token_is_refreshed_before_the_worker_uses_it(rotating) -> None:
    first = rotating.standin.token_of("T0ACME")
    assert first.startswith("xoxe.xoxb-")
    rotating.notifier.dm("T0ACME", "U0ANN", "one")
    rotating.notifier.dm("T0ACME", "U0ANN", "two")
    [refresh] = _refreshes(rotating)
    assert refresh.ok and refresh.args["grant_type"] == "refresh_token"
    newest = rotating.standin.token_of("T0ACME")
    assert newest != first
    assert rotating.clients.grant("T0ACME").token == newest  # stored, for every process
    posts = rotating.standin.calls("chat.postMessage")
    assert [p.args["text"] for p in posts] == ["one", "two"] and all(p.ok for p in posts)


def test_concurrent_users_of_an_expiring_token_refresh_it_once(rotating) -> None:
    tokens: list[str] = []
    start = threading.Barrier(6)

    def use() -> None:
        start.wait(10)
        tokens.append(rotating.clients.grant("T0ACME").token)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(_refreshes(rotating)) == 1  # a second refresh would have been refused
    assert set(tokens) == {rotating.standin.token_of("T0ACME")}


def test_an_inbound_request_gets_the_refreshed_token(rotating) -> None:
    driver = rotating.driver("T0ACME", "U0ANN", "C0ACMECS")
    driver.app_mention("hi")
    [reply] = rotating.standin.wait_for(
        "chat.postMessage", lambda c: c.args.get("channel") == "C0ACMECS"
    )
    assert reply.ok and len(_refreshes(rotating)) == 1


def test_a_refused_refresh_is_a_clear_non_retryable_failure(rotating) -> None:
    from bot.notify import DeliveryError

    rotating.standin.fail("oauth.v2.access", "invalid_refresh_token", times=1)
    with pytest.raises(DeliveryError) as exc:
        rotating.notifier.dm("T0ACME", "U0ANN", "hello")
    assert exc.value.code == "invalid_refresh_token" and not exc.value.retryable
    assert rotating.standin.calls("chat.postMessage") == []
