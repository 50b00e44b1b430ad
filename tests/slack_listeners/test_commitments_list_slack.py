"""`/commitments` is an ephemeral: Slack sends no copy of it with a click and only the click's
response_url can change it. Done / Snooze / Reassign on it replace the list with its new
state and say what happened (before, the commitment changed and the list stayed as it was)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from bot.digest.blocks import A_DONE, A_REASSIGN, A_SNOOZE
from bot.models import Commitment

TODAY = dt.date(2026, 11, 23)
MON_9_NY = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)


def _commit(world: Any, text: str, due: dt.date | None, **kw: Any) -> int:
    with world.session() as s:
        c = Commitment(
            team_id=world.team_id,
            owner_user_id="U0MAYA",
            text=text,
            due_date=due,
            status="open",
            side="vendor",
            **kw,
        )
        s.add(c)
        s.flush()
        return c.id or 0


def _status(world: Any, cid: int) -> Commitment:
    with world.session() as s:
        return s.exec(select(Commitment).where(Commitment.id == cid)).one()


def _shown(world: Any, message_ts: str) -> dict[str, Any]:
    return next(e for e in world.standin.ephemerals(user="U0MAYA") if e["message_ts"] == message_ts)


def _row(listing: dict[str, Any], cid: int) -> str:
    """The block id of commitment `cid`'s controls in the list."""
    return next(
        b["block_id"]
        for b in listing["blocks"]
        if b.get("type") == "actions" and f":c:{cid}:" in b.get("block_id", "")
    )


def test_clicks_on_the_list_update_it_in_place(slack: Any) -> None:
    world = slack
    world.tick(MON_9_NY)  # the app's clock: Monday
    acct = world.seed_account("Acme Corp", "acme.com")
    guide = _commit(world, "Send the SSO setup guide", dt.date(2026, 11, 20), account_id=acct.id)
    roadmap = _commit(world, "Share the Q1 roadmap", dt.date(2026, 11, 24))
    training = _commit(world, "Book the training", None)

    assert world.driver.command("/commitments", "", user_id="U0MAYA").status == 200
    listing = world.standin.ephemerals(user="U0MAYA")[-1]
    assert "Your open commitments" in str(listing["blocks"]) and "3 open" in str(listing["blocks"])

    # Done: the list now has two open, and says what was done
    world.driver.block_action(
        A_DONE, user_id="U0MAYA", message=listing, block_id=_row(listing, guide)
    )
    shown = world.standin.wait_until(
        lambda: (lambda e: e if "2 open" in str(e["blocks"]) else None)(
            _shown(world, listing["message_ts"])
        ),
        what="the list, updated",
    )
    assert ":white_check_mark: Done: *Send the SSO setup guide*" in str(shown["blocks"][0])
    assert "Send the SSO setup guide" not in str(shown["blocks"][1:])
    assert _status(world, guide).status == "done"

    # Snooze a week: the row shows its new date, the note says until when
    world.driver.block_action(
        A_SNOOZE, "1w", user_id="U0MAYA", message=shown, block_id=_row(shown, roadmap)
    )
    shown = world.standin.wait_until(
        lambda: (lambda e: e if "Snoozed" in str(e["blocks"]) else None)(
            _shown(world, listing["message_ts"])
        ),
        what="the snooze in the list",
    )
    assert "Snoozed until Mon Nov 30" in str(shown["blocks"][0])
    assert _status(world, roadmap).snoozed_until == dt.date(2026, 11, 30)

    # Reassign to Li: no longer Maya's, so it leaves her list; Li is told
    world.driver.block_action(
        A_REASSIGN,
        user_id="U0MAYA",
        message=shown,
        block_id=_row(shown, training),
        selected_user="U0LI",
    )
    shown = world.standin.wait_until(
        lambda: (lambda e: e if "Handed to" in str(e["blocks"]) else None)(
            _shown(world, listing["message_ts"])
        ),
        what="the reassignment in the list",
    )
    assert "Book the training" not in str(shown["blocks"][1:]) and "1 open" in str(shown["blocks"])
    world.standin.wait_message("U0LI", lambda m: "handed you" in m["text"])
    assert _status(world, training).owner_user_id == "U0LI"

    # a click on a row the list no longer shows (an older copy): answered, nothing changes
    world.driver.block_action(
        A_DONE, user_id="U0MAYA", message=listing, block_id=_row(listing, guide)
    )
    world.standin.wait_until(
        lambda: any("already done" in e["text"] for e in world.standin.ephemerals(user="U0MAYA")),
        what="the answer to a stale click",
    )
    assert not world.standin.calls("chat.postEphemeral")  # the bot may not be in this channel


def test_an_account_list_is_shown_again_as_the_account(slack: Any) -> None:
    world = slack
    world.tick(MON_9_NY)
    acct = world.seed_account("Globex", "globex.com")
    first = _commit(world, "Send the DPA", dt.date(2026, 11, 25), account_id=acct.id)
    _commit(world, "Fix the export", dt.date(2026, 11, 26), account_id=acct.id)
    assert world.driver.command("/commitments", "globex", user_id="U0MAYA").status == 200
    listing = world.standin.ephemerals(user="U0MAYA")[-1]
    assert "Open commitments for Globex" in str(listing["blocks"])
    world.driver.block_action(
        A_DONE, user_id="U0MAYA", message=listing, block_id=_row(listing, first)
    )
    shown = world.standin.wait_until(
        lambda: next(
            (
                e
                for e in world.standin.ephemerals(user="U0MAYA")
                if e["message_ts"] == listing["message_ts"] and "1 open" in str(e["blocks"])
            ),
            None,
        ),
        what="the account's list, updated",
    )
    assert "Open commitments for Globex" in str(shown["blocks"]) and "Done by" not in shown["text"]
