"""The ground floor: accounts imported from CSV, an account search in a modal, a forged
request refused, the app healthy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from bot import clock
from bot.accounts.service import import_accounts, import_contacts
from bot.devtools.world import World

SET_UP_AT = dt.datetime(2026, 11, 5, 15, 0, tzinfo=dt.UTC)  # Thursday 5 Nov, 10:00 New York

SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # bot/devtools/samples


def story(world: World) -> None:
    world.say("\n== 1. Getting started: accounts in, Slack wired up ==")
    clock.set_now(SET_UP_AT)
    world.say("Thursday 5 November 2026, 10:00 in New York.")
    world.say("$ followthrough accounts import accounts.csv")
    from bot.slack.directory import SlackDirectory

    with world.session() as s:
        report = import_accounts(
            s, world.team_id, (SAMPLES / "accounts.csv").read_bytes(), SlackDirectory(world.client)
        )
        contacts = import_contacts(s, world.team_id, (SAMPLES / "contacts.csv").read_bytes())
    for line in report.lines():
        world.say("  " + line)
    world.say(f"$ followthrough contacts import contacts.csv\n  {contacts.lines()[0]}")

    world.say("\nMaya types 'acm' in an account picker:")
    resp = world.driver.block_suggestion("account_select", "acm")
    for opt in resp.json["options"]:
        world.say(f"  ▸ {opt['text']['text']}  ({opt.get('description', {}).get('text', '')})")

    forged = world.driver.post(
        b"command=%2Freport-risk&text=Acme&team_id=T0TEST",
        "application/x-www-form-urlencoded",
        signature="v0=" + "0" * 64,
    )
    world.say(f"\nA request with a forged signature gets HTTP {forged.status} and changes nothing.")
    if world.base_url:
        health = httpx.get(world.base_url.replace("/slack/events", "/healthz")).json()
        world.say(f"GET /healthz → {health}")
