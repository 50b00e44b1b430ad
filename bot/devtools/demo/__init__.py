"""`followthrough demo`: the whole product on this machine, no Slack workspace, no LLM key.

Starts the local Slack stand-in and the real app (HTTP mode, signed requests) on a fresh
SQLite database, then plays short scripted stories and prints what people in Slack see.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Annotated

import typer

# In story order, which is also the calendar: set-up on Thu 5 Nov 2026, the risk reported on
# Fri 6 Nov and its playbook run until Fri 20 Nov, that afternoon's call captured, then
# Monday 23 Nov's digest and report, then the CRM, then the signals. Each story pins the app's
# clock.
STORIES = ("foundation", "risk", "engine", "capture", "digest", "crm", "signals")


def run_demo(
    database_url: str | None = None, stories: tuple[str, ...] = STORIES, echo: bool = True
) -> list[str]:
    from bot import clock
    from bot.devtools.world import World
    from bot.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="followthrough-demo-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'demo.db'}"
        upgrade(url)
        from bot.devtools.webhook_senders import new_secret

        with World(
            url,
            http=True,
            echo=echo,
            team_id="T0TEST",
            signals_webhook_secret=new_secret(),
            zoom_webhook_secret_token="demo-zoom-secret-token",
        ) as world:
            world.say(
                "Followthrough demo — a local stand-in for Slack, the real app over HTTP, "
                "SQLite, the offline rules engine."
            )
            for name in stories:
                importlib.import_module(f"bot.devtools.demo.stories.{name}").story(world)
            clock.set_now(None)
            world.say(
                "\nDone. Everything above ran through signed Slack requests and the "
                "Web API stand-in; nothing left this machine."
            )
            return world.transcript


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        story: Annotated[
            list[str] | None, typer.Option(help=f"Only these stories ({', '.join(STORIES)})")
        ] = None,
        database_url: Annotated[
            str | None,
            typer.Option(
                help="Keep the demo's data in this database instead of a temporary SQLite file"
            ),
        ] = None,
    ) -> None:
        """Play a scripted session against a local Slack stand-in (no tokens needed)."""
        from bot.clikit import setup_logging

        setup_logging("WARNING")
        chosen = tuple(story) if story else STORIES
        unknown = [s for s in chosen if s not in STORIES]
        if unknown:
            raise typer.BadParameter(f"unknown story {unknown[0]!r}; choose from {STORIES}")
        run_demo(database_url, chosen)
