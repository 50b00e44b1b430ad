"""`followthrough manifest`: the Slack app manifest with your host (or Socket Mode) filled in,
so the app created from it needs no hand edits.

The manifest is also the one list of bot scopes: the OAuth install asks for exactly these,
and `followthrough doctor` compares what a token was granted against them.
"""

from __future__ import annotations

import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

MANIFEST = Path(__file__).resolve().parent.parent / "slack-app-manifest.yml"
PLACEHOLDER = "https://YOUR-HOST"
EVENTS_PATH = "/slack/events"
REDIRECT_PATH = "/slack/oauth_redirect"


class BadUrl(ValueError):
    pass


@lru_cache(maxsize=1)
def _manifest_text() -> str:
    return MANIFEST.read_text()


def bot_scopes() -> list[str]:
    """The bot scopes the app asks for (and needs)."""
    return list(yaml.safe_load(_manifest_text())["oauth_config"]["scopes"]["bot"])


def public_base(url: str) -> str:
    """`https://host[:port][/prefix]` from what a person types: the base URL, or the full
    events URL (`…/slack/events`, used once, never doubled). Refuses http://, bare hosts,
    query strings and any other path."""
    raw = url.strip()
    parts = urllib.parse.urlsplit(raw)
    if not parts.scheme and not parts.netloc:
        raise BadUrl(f"--url '{url}' is not a URL: give it as https://{raw.strip('/')}")
    if parts.scheme != "https":
        raise BadUrl(
            f"--url '{url}' must start with https:// (Slack only sends requests to HTTPS URLs; "
            "behind a firewall use --socket)"
        )
    if not parts.hostname or ("." not in parts.hostname and parts.hostname != "localhost"):
        raise BadUrl(f"--url '{url}' has no public host name")
    if parts.query or parts.fragment:
        raise BadUrl(f"--url '{url}' must not have a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith(EVENTS_PATH):
        path = path.removesuffix(EVENTS_PATH)
    elif path:
        raise BadUrl(
            f"--url '{url}': give the base URL (https://{parts.netloc}) or the full events URL "
            f"(https://{parts.netloc}{path}{EVENTS_PATH}); `serve` answers on {EVENTS_PATH}"
        )
    return f"https://{parts.netloc}{path}"


def build_manifest(
    url: str | None = None, socket: bool = False, token_rotation: bool = False
) -> dict[str, Any]:
    """The manifest as a dict: URLs pointed at `url`, or removed for Socket Mode."""
    if socket and url:
        raise BadUrl(
            "--url and --socket exclude each other: Socket Mode needs no public URL "
            "(drop --url), HTTP mode needs one (drop --socket)"
        )
    data = yaml.safe_load(_manifest_text())
    settings = data["settings"]
    settings["token_rotation_enabled"] = token_rotation
    if socket:
        settings["socket_mode_enabled"] = True
        settings["event_subscriptions"].pop("request_url", None)
        settings["interactivity"].pop("request_url", None)
        settings["interactivity"].pop("message_menu_options_url", None)
        data["oauth_config"].pop("redirect_urls", None)
        for cmd in data["features"]["slash_commands"]:
            cmd.pop("url", None)
        return data
    base = public_base(url) if url else PLACEHOLDER
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace(PLACEHOLDER, base)
    return yaml.safe_load(text)


def register(app: typer.Typer) -> None:
    @app.command()
    def manifest(
        url: Annotated[
            str | None,
            typer.Option(help="Public https URL of `serve` (https://host, or …/slack/events)"),
        ] = None,
        socket: Annotated[bool, typer.Option(help="Socket Mode variant (no URLs)")] = False,
        token_rotation: Annotated[
            bool,
            typer.Option(
                "--token-rotation",
                help="Turn on token rotation (12-hour bot tokens, refreshed by the app; "
                "Slack does not let you turn it off again)",
            ),
        ] = False,
    ) -> None:
        """Print the Slack app manifest (paste it at api.slack.com/apps → Create New App)."""
        try:
            if not url and not socket:
                raise BadUrl("Give --url https://your.host (HTTP mode) or --socket (Socket Mode).")
            data = build_manifest(url, socket, token_rotation)
        except BadUrl as exc:
            typer.secho(str(exc), err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
