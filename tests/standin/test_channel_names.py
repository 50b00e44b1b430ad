"""chat.postMessage takes a channel name as real Slack does (`#cs-team` or `cs-team`)."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.standin import SlackStandin


@pytest.mark.parametrize("name", ["#cs-team", "cs-team"])
def test_post_by_channel_name_lands_in_that_channel(
    standin: SlackStandin, client: WebClient, name: str
) -> None:
    resp = client.chat_postMessage(channel=name, text="by name")
    assert resp["channel"] == "C1"  # Slack answers with the channel's id
    assert standin.messages("C1")[-1]["text"] == "by name"


def test_channel_names_are_scoped_to_the_team(standin: SlackStandin, client: WebClient) -> None:
    standin.add_team("T2", "Other")
    standin.add_channel("T2", "C9", "elsewhere", [])
    for name in ("#elsewhere", "#nope", "#"):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=name, text="x")
        assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="#no-bot", text="x")
    assert err.value.response["error"] == "not_in_channel"
