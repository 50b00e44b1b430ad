"""Commitment capture: after Friday's intro call (the engine story's step 4), Maya shares the
call's transcript, the app reads it in the thread, she confirms two promises, edits one,
dismisses one, then asks `/commitments`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import col, select

from bot import clock
from bot.accounts.service import find_account
from bot.capture import blocks as rb
from bot.devtools.world import CS_CHANNEL, World
from bot.models import Commitment

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "call-2026-11-20.vtt"
FILE_ID = "F0DEMOCALL1"
SHARED_AT = dt.datetime(2026, 11, 20, 21, 30, tzinfo=dt.UTC)  # Friday 20 Nov, 16:30 New York


def _acme(world: World) -> None:
    with world.session() as s:
        found = find_account(s, world.team_id, "acme.com")
    if found is None:
        world.seed_account(
            "Acme Corp",
            "acme.com",
            contacts=[
                {"name": "Dana Ruiz", "email": "dana@acme.com", "role": "champion"},
                {"name": "Priya Nair", "email": "priya@acme.com", "role": "admin"},
            ],
        )


def _message(world: World, ts: str) -> dict:
    for m in world.standin.messages(CS_CHANNEL, include_replies=True):
        if m["ts"] == ts:
            return m | {"channel": CS_CHANNEL}
    raise LookupError(ts)


def _reviewed_rows(world: World, review_ts: str) -> list[Commitment]:
    """The proposals, once the worker has noted which message shows them."""
    return world.wait_db(
        lambda s: list(
            s.exec(
                select(Commitment)
                .where(Commitment.team_id == world.team_id, Commitment.review_ts == review_ts)
                .order_by(col(Commitment.id))
            )
        ),
        "the proposals linked to their review message",
    )


def _review_shows(world: World, review_ts: str, needle: str) -> dict:
    """The review message once it shows `needle` (the app edits it in place)."""
    world.standin.wait_message(
        CS_CHANNEL, lambda m: m["ts"] == review_ts and needle in str(m.get("blocks"))
    )
    return _message(world, review_ts)


def _click(world: World, action: str, c: Commitment, review_ts: str, shows: str) -> dict:
    """Click `action` on commitment `c`; returns the review once it `shows` the result."""
    world.driver.block_action(
        action,
        user_id="U0MAYA",
        message=_message(world, review_ts),
        block_id=f"{rb.ITEM_BLOCK}:{c.id}:{c.status}",
    )
    return _review_shows(world, review_ts, shows)


def story(world: World) -> None:
    world.say("\n== Commitment capture: from a call transcript to tracked commitments ==")
    clock.set_now(SHARED_AT)
    world.say("Friday 20 November, 16:30 in New York, after the intro call with Acme.")
    _acme(world)
    data = SAMPLE.read_bytes()
    world.standin.add_file(
        world.team_id, FILE_ID, SAMPLE.name, data, "text/vtt", user="U0MAYA", channels=[CS_CHANNEL]
    )
    world.say(f"Maya drops {SAMPLE.name} (Teams export, 40 captions, 4 speakers) into #cs-risk.")
    world.driver.file_share_message(
        [FILE_ID], user_id="U0MAYA", channel_id=CS_CHANNEL, text="Acme check-in from Friday"
    )
    upload = world.standin.messages(CS_CHANNEL)[-1]
    review = world.standin.wait_message(
        CS_CHANNEL,
        lambda m: m.get("thread_ts") == upload["ts"] and "Commitments from" in str(m.get("blocks")),
    ) | {"channel": CS_CHANNEL}
    reading = next(
        m for m in world.standin.thread(CS_CHANNEL, upload["ts"]) if "Reading" in m.get("text", "")
    )
    world.show("#cs-risk › thread (at once)", reading["text"])
    world.show("#cs-risk › thread (a moment later)", review)

    rows = _reviewed_rows(world, review["ts"])
    mine = [c for c in rows if c.owner_user_id == "U0MAYA"]
    li = next(c for c in rows if c.owner_user_id == "U0LI")
    sso, deck, recap = mine[0], next(c for c in mine if "roadmap" in c.text), mine[-1]

    world.say("\nMaya confirms the SSO guide and Li's renewal quote:")
    _click(world, rb.A_CONFIRM, sso, review["ts"], f"{rb.ITEM_BLOCK}:{sso.id}:open")
    _click(world, rb.A_CONFIRM, li, review["ts"], f"{rb.ITEM_BLOCK}:{li.id}:open")
    world.say("She edits the roadmap deck (it needs a date) in the Edit modal:")
    clicked = world.driver.block_action(
        rb.A_EDIT,
        user_id="U0MAYA",
        message=_message(world, review["ts"]),
        block_id=f"{rb.ITEM_BLOCK}:{deck.id}:proposed",
    )
    modal = world.standin.wait_view(clicked)
    world.driver.view_submission(
        modal,
        {
            "text": "Send Dana the Q1 reporting roadmap deck",
            "due": "2026-11-25",
            "category": "follow_up",
            "owner": "U0MAYA",
        },
    )
    _review_shows(world, review["ts"], "Q1 reporting roadmap deck")
    world.say("…and dismisses the recap (she sends one after every call anyway):")
    after = _click(world, rb.A_DISMISS, recap, review["ts"], "Dismissed by")
    world.show("#cs-risk › thread (updated in place)", after)

    world.say("\nMaya types `/commitments`:")
    answer = world.driver.command("/commitments", "", user_id="U0MAYA", channel_id=CS_CHANNEL)
    world.show("only Maya sees", answer.json or answer.body_text)
