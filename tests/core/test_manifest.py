"""`followthrough manifest`: the URL is checked (https, the base or the full events URL used
once), and the manifest asks only for scopes the code uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.manifest import BadUrl, bot_scopes, build_manifest


def _urls(data: dict) -> set[str]:
    found = {c["url"] for c in data["features"]["slash_commands"]}
    found.add(data["settings"]["event_subscriptions"]["request_url"])
    found.add(data["settings"]["interactivity"]["request_url"])
    return found


@pytest.mark.parametrize(
    "url",
    ["https://ft.example.com", "https://ft.example.com/", "https://ft.example.com/slack/events"],
)
def test_base_or_full_events_url_gives_the_same_manifest(url: str) -> None:
    data = build_manifest(url)
    assert _urls(data) == {"https://ft.example.com/slack/events"}
    assert data["oauth_config"]["redirect_urls"] == ["https://ft.example.com/slack/oauth_redirect"]


def test_a_path_prefix_is_kept() -> None:
    data = build_manifest("https://example.com/ft/slack/events")
    assert _urls(data) == {"https://example.com/ft/slack/events"}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://ft.example.com", "must start with https://"),
        ("ft.example.com", "give it as https://ft.example.com"),
        ("https://ft.example.com/hooks", "give the base URL"),
        ("https://ft.example.com/?x=1", "query or fragment"),
        ("https://ft", "no public host name"),
    ],
)
def test_bad_urls_are_refused(url: str, said: str) -> None:
    with pytest.raises(BadUrl, match=said.replace("?", r"\?")):
        build_manifest(url)


def test_url_with_socket_is_refused_not_dropped() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "https://x.io", "--socket"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "exclude each other" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_socket_mode_has_no_urls_and_rotation_is_opt_in() -> None:
    data = build_manifest(socket=True)
    assert data["settings"]["socket_mode_enabled"] is True
    assert "redirect_urls" not in data["oauth_config"]
    assert all("url" not in c for c in data["features"]["slash_commands"])
    assert build_manifest("https://x.io")["settings"]["token_rotation_enabled"] is False
    assert build_manifest("https://x.io", token_rotation=True)["settings"]["token_rotation_enabled"]


def test_only_scopes_the_code_uses() -> None:
    scopes = set(bot_scopes())
    for unused in ("channels:read", "groups:read", "im:read", "reactions:write", "team:read"):
        assert unused not in scopes
    events = build_manifest("https://x.io")["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)
