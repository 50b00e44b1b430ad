"""Digest, item controls, close-the-loop and App Home through signed requests against the
local Slack stand-in (never calling listeners directly)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.digest.blocks import A_DONE, A_REASSIGN, A_SNOOZE, A_SNOOZE_DATE
from bot.followup.blocks import A_CLOSE_SEND, A_REPORT_MISSED
from bot.models import Commitment, Contact, DigestSend

MON_9_NY = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)


def _commit(world, owner: str, text: str, due: dt.date | None, **kw) -> int:  # type: ignore[no-untyped-def]
    with world.session() as s:
        c = Commitment(
            team_id=world.team_id,
            owner_user_id=owner,
            text=text,
            due_date=due,
            status="open",
            side="vendor",
            **kw,
        )
        s.add(c)
        s.flush()
        return c.id or 0


def _digest(world, user: str) -> dict:  # type: ignore[no-untyped-def]
    msgs = [m for m in world.standin.messages(user) if "follow-through" in str(m["blocks"])]
    assert len(msgs) == 1, f"expected one digest for {user}, got {len(msgs)}"
    return msgs[0] | {"channel": world.standin.dm_channel(user)}


def test_digest_actions_end_to_end(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    acct = world.seed_account("Acme Corp", "acme.com", channel="C0ACME")
    world.standin.add_channel(world.team_id, "C0ACME", "ext-acme", ["U0MAYA"])
    done_id = _commit(
        world, "U0MAYA", "Send the SSO setup guide", dt.date(2026, 11, 20), account_id=acct.id
    )
    snooze_id = _commit(world, "U0MAYA", "Share the Q1 roadmap", dt.date(2026, 11, 23))
    hand_id = _commit(world, "U0MAYA", "Book the training", None)

    counts = world.tick(MON_9_NY)
    assert counts["digest"] >= 1
    world.tick(MON_9_NY + dt.timedelta(seconds=30))  # a restart at 9:00:30: nothing more
    msg = _digest(world, "U0MAYA")
    assert "Overdue" in str(msg["blocks"]) and "No due date" in str(msg["blocks"])

    # Done → the row shows who did it, and the owner is offered the close-the-loop note
    r = world.driver.block_action(
        A_DONE, user_id="U0MAYA", message=msg, block_id=f"ftitem:c:{done_id}:open"
    )
    assert r.status == 200
    offer = world.standin.wait_for(
        "chat.postMessage", lambda c: "Close the loop" in str(c.args.get("text"))
    )[0]
    assert "that's done" in str(offer.args["blocks"])
    _handled(world, "U0MAYA", msg, f"ftitem:c:{done_id}:open")
    msg = _digest(world, "U0MAYA")
    assert "Done by <@U0MAYA>" in str(msg["blocks"])

    # a stale second click on Done gets a polite answer, nothing changes
    world.driver.block_action(
        A_DONE,
        user_id="U0MAYA",
        message=_first_with(world, "U0MAYA", done_id),
        block_id=f"ftitem:c:{done_id}:open",
    )
    world.standin.wait_ephemeral("U0MAYA", "already done")

    # snooze to a past date → a clear answer; 1 week → snoozed
    world.driver.block_action(
        A_SNOOZE_DATE,
        user_id="U0MAYA",
        message=msg,
        block_id=f"ftitem:c:{snooze_id}:open",
        selected_date="2026-11-01",
    )
    world.standin.wait_ephemeral("U0MAYA", "not in the future")
    world.driver.block_action(
        A_SNOOZE, "1w", user_id="U0MAYA", message=msg, block_id=f"ftitem:c:{snooze_id}:open"
    )
    _handled(world, "U0MAYA", msg, f"ftitem:c:{snooze_id}:open")
    # reassign → Li owns it and is told
    world.driver.block_action(
        A_REASSIGN,
        user_id="U0MAYA",
        message=_digest(world, "U0MAYA"),
        block_id=f"ftitem:c:{hand_id}:open",
        selected_user="U0LI",
    )
    world.standin.wait_for("chat.postMessage", lambda c: "handed you" in str(c.args.get("text")))
    _handled(world, "U0MAYA", msg, f"ftitem:c:{hand_id}:open")
    with world.session() as s:
        rows = {c.id: c for c in s.exec(select(Commitment))}
    assert rows[done_id].status == "done"
    assert rows[snooze_id].snoozed_until is not None
    assert rows[snooze_id].snoozed_until > dt.date(2026, 11, 23)
    assert rows[hand_id].owner_user_id == "U0LI"

    # the close-the-loop Yes posts in the shared channel once
    offer_msg = next(
        m for m in world.standin.messages("U0MAYA") if "Close the loop" in m.get("text", "")
    )
    offer_msg = offer_msg | {"channel": world.standin.dm_channel("U0MAYA")}
    with world.session() as s:
        s.add(
            Contact(
                team_id=world.team_id,
                account_id=acct.id or 0,
                name="Dana Ruiz",
                email="dana@acme.com",
                role="champion",
            )
        )
    world.driver.block_action(A_CLOSE_SEND, user_id="U0MAYA", message=offer_msg)
    world.standin.wait_message("C0ACME", lambda m: "that's done" in m["text"])
    world.driver.block_action(A_CLOSE_SEND, user_id="U0MAYA", message=offer_msg)
    world.standin.wait_ephemeral("U0MAYA", "already handled")
    shared = world.standin.messages("C0ACME")
    assert len(shared) == 1 and "that's done" in shared[0]["text"]


def _handled(world, user: str, message: dict, block_id: str) -> dict:  # type: ignore[no-untyped-def]
    """The digest `message` once the item's controls (`block_id`) gave way to a note."""
    return world.standin.wait_message(
        user,
        lambda m: (
            m["ts"] == message["ts"]
            and block_id not in [b.get("block_id") for b in m.get("blocks", [])]
        ),
        what=f"the digest without the controls of {block_id}",
    )


def _first_with(world, user: str, cid: int) -> dict:  # type: ignore[no-untyped-def]
    """The digest as it was first posted (a stale copy still showing the buttons)."""
    call = next(
        c
        for c in world.standin.calls("chat.postMessage")
        if "follow-through" in str(c.args.get("blocks"))
    )
    blocks = call.args["blocks"]
    msg = _digest(world, user)
    return msg | {"blocks": blocks}


def test_deactivated_and_no_tz_people(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    with world.session() as s:
        from bot.models import Person

        sam = s.exec(select(Person).where(Person.slack_user_id == "U0SAM")).one()
        sam.tz = None  # no timezone → DEFAULT_TIMEZONE (New York)
        rita = s.exec(select(Person).where(Person.slack_user_id == "U0RITA")).one()
        rita.deactivated = True
        s.add(sam)
        s.add(rita)
    _commit(world, "U0SAM", "Fix the export", dt.date(2026, 11, 23))
    _commit(world, "U0RITA", "Call back", dt.date(2026, 11, 23))
    world.tick(MON_9_NY - dt.timedelta(minutes=1))
    assert world.standin.calls("chat.postMessage") == []
    world.tick(MON_9_NY)
    assert len(world.standin.calls("chat.postMessage")) == 1
    _digest(world, "U0SAM")
    assert world.standin.messages("U0RITA") == []
    with world.session() as s:
        assert [r.user_id for r in s.exec(select(DigestSend))] == ["U0SAM"]


def test_overdue_csm_gets_report_risk_button(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    acct = world.seed_account("Acme Corp", "acme.com")
    cid = _commit(world, "U0LI", "Ship the CSV fix", dt.date(2026, 11, 20), account_id=acct.id)
    world.tick(MON_9_NY)  # 06:00 for Li in Los Angeles: not yet told
    assert not any("overdue" in m.get("text", "").lower() for m in world.standin.messages("U0LI"))
    world.tick(MON_9_NY + dt.timedelta(hours=3))
    csm_msg = next(
        m for m in world.standin.messages("U0MAYA") if "Missed commitment" in m.get("text", "")
    )
    csm_msg |= {"channel": world.standin.dm_channel("U0MAYA")}
    assert any("overdue" in m.get("text", "").lower() for m in world.standin.messages("U0LI"))
    clicked = world.driver.block_action(A_REPORT_MISSED, user_id="U0MAYA", message=csm_msg)
    world.standin.wait_view(clicked)
    views = world.standin.open_views("U0MAYA")
    assert views, "a report-risk modal opens"
    assert "Ship the CSV fix" in str(views[-1]["blocks"])
    assert cid


def test_app_home_lists_items_and_acts(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    for i in range(70):  # far more than fits: Home stays ≤ 100 blocks and says so
        _commit(world, "U0ANA", f"Promise number {i}", dt.date(2026, 11, 24))
    r = world.driver.app_home_opened(user_id="U0ANA")
    assert r.status == 200
    world.standin.wait_home("U0ANA", lambda h: bool(h.get("blocks")))
    home = world.standin.home_view("U0ANA")
    assert home is not None and len(home["blocks"]) <= 100
    text = str(home["blocks"])
    assert "more not shown" in text and "Team's open cases by risk" in text
    first = (
        home["blocks"][3]["block_id"]
        if home["blocks"][3]["type"] == "actions"
        else home["blocks"][4]["block_id"]
    )
    world.driver.block_action(A_DONE, user_id="U0ANA", view=home["id"], block_id=first)
    world.standin.wait_home(
        "U0ANA", lambda h: first not in [b.get("block_id") for b in h["blocks"]]
    )
    world.standin.wait_message("U0ANA", lambda m: "Close the loop" in m.get("text", ""))
    # not an admin → no team section
    world.driver.app_home_opened(user_id="U0SAM")
    sam_home = world.standin.wait_home("U0SAM", lambda h: bool(h.get("blocks")))
    assert "Team's open cases" not in str(sam_home["blocks"])


def _seed_cases(world) -> None:  # type: ignore[no-untyped-def]
    from bot.models import Case
    from bot.playbooks.service import get_playbook

    acct = world.seed_account("Acme Corp", "acme.com")
    now = dt.datetime.now(dt.UTC)
    with world.session() as s:
        pb = get_playbook(s, world.team_id, "missed_commitment")  # a seed playbook
        assert pb is not None
        for i, (outcome, step) in enumerate([("saved", 2), ("saved", 3), ("churned", None)]):
            s.add(
                Case(
                    team_id=world.team_id,
                    account_id=acct.id or 0,
                    risk_key="missed_commitment",
                    playbook_id=pb.id or 0,
                    status="resolved",
                    outcome=outcome,
                    total_steps=5,
                    resolution_step=step,
                    opened_at=now - dt.timedelta(days=5 + i),
                    resolved_at=now - dt.timedelta(days=1),
                )
            )
    _commit(world, "U0MAYA", "Send the guide", dt.date.today() + dt.timedelta(days=3))


def test_cs_report_with_charts(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    _seed_cases(world)
    r = world.driver.command("/cs-report", "30d", user_id="U0ANA")
    assert r.status == 200 and "Building the report" in world.standin.answer(r)
    charts = {"resolution-by-step.png", "commitments-kept.png"}
    world.standin.wait_until(
        lambda: charts <= {u["filename"] for u in world.standin.uploads()},
        timeout=90,  # drawing them is slow on a busy machine
        what="both charts",
    )
    report = world.standin.messages("U0ANA")[0]
    assert "CS report" in report["text"] and "67%" in str(report["blocks"])
    assert len(world.standin.uploads()) == 2


def test_cs_report_upload_refused_still_delivers_text(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    _seed_cases(world)
    world.standin.fail("files.getUploadURLExternal", "file_uploads_disabled", times=None)
    world.driver.command("/cs-report", "", user_id="U0ANA")
    world.standin.wait_message("U0ANA", lambda m: "could not be posted" in m["text"])
    texts = [m["text"] for m in world.standin.messages("U0ANA", include_replies=True)]
    assert any("CS report" in t for t in texts)
    assert any("could not be posted" in t for t in texts)
    assert world.standin.uploads() == []


def test_cs_report_bad_period_and_empty(slack) -> None:  # type: ignore[no-untyped-def]
    world = slack
    r = world.driver.command("/cs-report", "someday", user_id="U0ANA")
    assert "don't understand" in world.standin.answer(r)
    world.driver.command("/cs-report", "2001-01-01..2001-01-31", user_id="U0ANA")
    world.standin.wait_message("U0ANA", lambda m: "Nothing in this period" in m["text"])
    assert "Nothing in this period" in world.standin.messages("U0ANA")[0]["text"]
    assert world.standin.calls("files.getUploadURLExternal") == []


def test_settings_modal_submission_turns_digest_off(slack) -> None:  # type: ignore[no-untyped-def]
    from bot.digest.service import settings_view

    world = slack
    trigger = world.standin.new_trigger_id("U0MAYA", world.team_id)
    opened = world.client.views_open(trigger_id=trigger, view=settings_view(world.person("U0MAYA")))
    r = world.driver.view_submission(
        opened["view"]["id"], {"digest_enabled": [], "digest_hour": "7"}, user_id="U0MAYA"
    )
    assert r.status == 200 and not r.problems
    maya = world.person("U0MAYA")
    assert (maya.digest_enabled, maya.digest_hour) == (False, 7)
    _commit(world, "U0MAYA", "Send the guide", dt.date(2026, 11, 23))
    world.tick(MON_9_NY)
    assert world.standin.messages("U0MAYA") == []
