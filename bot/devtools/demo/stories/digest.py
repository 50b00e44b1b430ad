"""Follow-through: Monday's digest (promises from earlier calls, plus Friday's captured ones),
Done → closing the loop with the customer, an overdue promise escalated to the CSM, App Home,
and `/cs-report` counting the same commitments the digest showed."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, select

from bot import clock
from bot.devtools.world import World
from bot.models import Commitment, Contact

MON_9_NY = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
EARLIER_CALLS = dt.datetime(2026, 11, 16, 20, 0, tzinfo=dt.UTC)  # promises made a week before
SSO = "SSO setup guide"


def _promise(
    world: World, owner: str, text: str, due: dt.date | None, account_id: int | None
) -> int:
    with world.session() as s:
        c = Commitment(
            team_id=world.team_id,
            owner_user_id=owner,
            text=text,
            due_date=due,
            account_id=account_id,
            status="open",
            side="vendor",
        )
        s.add(c)
        s.flush()
        return c.id or 0


def _sso_guide(world: World, account_id: int | None) -> int:
    """The SSO guide promised on Friday's call (the capture story confirmed it); when this
    story plays alone, the same promise as a confirmed commitment — never a second copy."""
    with world.session() as s:
        found = s.exec(
            select(Commitment)
            .where(
                Commitment.team_id == world.team_id,
                Commitment.status == "open",
                col(Commitment.text).contains(SSO),
            )
            .order_by(col(Commitment.id))
        ).first()
    if found is not None:
        return found.id or 0
    text = f"Maya Chen will send Acme Corp the updated {SSO} for Okta by Friday."
    return _promise(world, "U0MAYA", text, dt.date(2026, 11, 27), account_id)


def story(world: World) -> None:
    world.say("\n== Follow-through: the daily digest, closing the loop, and what we learn ==")
    clock.set_now(EARLIER_CALLS)
    world.standin.add_channel(world.team_id, "C0EXTACME", "ext-acme", ["U0MAYA"])
    acct = world.seed_account("Acme Corp", "acme.com", channel="C0EXTACME", contacts=[])
    with world.session() as s:
        known = s.exec(
            select(Contact).where(
                Contact.team_id == world.team_id, Contact.email == "dana@acme.com"
            )
        ).first()
        if known is None:
            s.add(
                Contact(
                    team_id=world.team_id,
                    account_id=acct.id or 0,
                    name="Dana Ruiz",
                    email="dana@acme.com",
                    role="champion",
                )
            )
    # Promises from the week before, confirmed then; Friday's captured ones are already open.
    _promise(world, "U0MAYA", "Send Dana the usage report", dt.date(2026, 11, 20), acct.id)
    _promise(world, "U0MAYA", "Confirm the QBR agenda with Lee", dt.date(2026, 11, 23), acct.id)
    _promise(world, "U0MAYA", "Book the admin training", None, acct.id)
    _promise(world, "U0LI", "Ship the CSV export fix", dt.date(2026, 11, 19), acct.id)
    guide = _sso_guide(world, acct.id)

    world.say(
        "\nMonday 09:00 in New York — the worker ticks (and ticks again at 09:00:30 "
        "after a restart: nobody gets a second digest)."
    )
    world.tick(MON_9_NY)
    world.tick(MON_9_NY + dt.timedelta(seconds=30))
    dm = world.standin.dm_channel("U0MAYA")
    digest = [
        m for m in world.standin.messages("U0MAYA") if "Your daily digest" in m.get("text", "")
    ][-1]  # earlier stories' days too
    world.show("Maya's DM", digest)

    world.say("\nMaya clicks Done on the SSO guide (sent this morning, before its Friday date):")
    mark = world.standin.mark()  # earlier stories DMed Maya too
    world.driver.block_action(
        "ft_item_done",
        user_id="U0MAYA",
        message=digest | {"channel": dm},
        block_id=f"ftitem:c:{guide}:open",
    )
    offer_msg = world.standin.wait_message(
        "U0MAYA", lambda m: "Close the loop" in m.get("text", ""), since=mark
    )
    world.show("Maya's DM", offer_msg)
    world.say("She clicks “Yes, send it”:")
    world.driver.block_action(
        "ft_close_loop_send", user_id="U0MAYA", message=offer_msg | {"channel": dm}
    )
    shared = world.standin.wait_message("C0EXTACME", lambda m: "that's done" in m["text"])
    world.show("#ext-acme (shared with Acme)", shared)

    world.say("\nLi's promise is overdue; at 09:00 in Los Angeles Li and Acme's CSM are told:")
    world.tick(MON_9_NY + dt.timedelta(hours=3))
    csm = next(
        m
        for m in world.standin.messages("U0MAYA")
        if "Missed commitment" in m.get("text", "") and "Suggested case" not in m["text"]
    )
    world.show("Maya's DM", csm)

    world.say("\nAna (CS admin) opens the app's Home tab:")
    before = world.standin.home_view("U0ANA")
    world.driver.app_home_opened(user_id="U0ANA")
    home = world.standin.wait_home("U0ANA", lambda h: before is None or h["hash"] != before["hash"])
    world.show("Ana's Home", home["blocks"])

    world.say("\nAna types `/cs-report 30d`:")
    mark = world.standin.mark()
    world.driver.command("/cs-report", "30d", user_id="U0ANA")
    report = world.standin.wait_message("U0ANA", lambda m: "CS report" in m["text"], since=mark)
    world.show("Ana's DM", report)
