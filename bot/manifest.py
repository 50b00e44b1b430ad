"""`followthrough manifest`: the Slack app manifest with your host (or Socket Mode) filled in,
so the app created from it needs no hand edits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

MANIFEST = Path(__file__).resolve().parent.parent / "slack-app-manifest.yml"
PLACEHOLDER = "https://YOUR-HOST"


def build_manifest(url: str | None = None, socket: bool = False) -> dict[str, Any]:
    """The manifest as a dict: URLs pointed at `url`, or removed for Socket Mode."""
    data = yaml.safe_load(MANIFEST.read_text())
    settings = data["settings"]
    if socket:
        settings["socket_mode_enabled"] = True
        settings["event_subscriptions"].pop("request_url", None)
        settings["interactivity"].pop("request_url", None)
        settings["interactivity"].pop("message_menu_options_url", None)
        for cmd in data["features"]["slash_commands"]:
            cmd.pop("url", None)
        return data
    base = (url or PLACEHOLDER).rstrip("/")
    text = yaml.safe_dump(data, sort_keys=False).replace(PLACEHOLDER, base)
    return yaml.safe_load(text)


def register(app: typer.Typer) -> None:
    @app.command()
    def manifest(
        url: Annotated[str | None, typer.Option(help="Public https URL of `serve`")] = None,
        socket: Annotated[bool, typer.Option(help="Socket Mode variant (no URLs)")] = False,
    ) -> None:
        """Print the Slack app manifest (paste it at api.slack.com/apps → Create New App)."""
        if not url and not socket:
            raise typer.BadParameter("give --url https://your.host or --socket")
        typer.echo(yaml.safe_dump(build_manifest(url, socket), sort_keys=False))
