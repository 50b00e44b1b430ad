"""Capture end to end through signed requests against the Slack stand-in: an upload is
acknowledged in its thread, reviewed, decided on; `/commitments` lists what is open."""

from __future__ import annotations

from sqlmodel import select

from bot.capture import blocks as rb
from bot.devtools.standin.blockkit import validate_message_blocks
from bot.models import AuditEvent, Transcript


def _item_block(cid: int, status: str) -> str:
    return f"{rb.ITEM_BLOCK}:{cid}:{status}"


def test_upload_is_read_reviewed_and_decided(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    acct = world.seed_account("Acme Corp", "acme.com")
    data = call_vtt
    up = cap.upload("call-2026-11-20.vtt", data)

    reading = cap.wait_answer(up, "Reading call-2026-11-20.vtt")
    assert reading["thread_ts"] == up.ts
    review = cap.review(up)
    assert validate_message_blocks(review["blocks"]) == []
    assert "Acme Corp" in str(review["blocks"])  # guessed from the call's words and speakers
    cap.idle()

    [t] = cap.transcripts()
    assert t.status == "review" and t.content == data and len(t.sha256) == 64
    assert t.account_id == acct.id and t.call_date.isoformat() == "2026-11-20"
    rows = cap.commitments()
    assert len(rows) >= 5 and all(c.status == "proposed" for c in rows)
    owners = {c.owner_name: c.owner_user_id for c in rows}
    assert owners["Maya Chen"] == "U0MAYA" and owners["Li Wei"] == "U0LI"
    assert owners.get("Dana Ruiz") is None  # the customer: named, never a workspace member
    assert all(c.review_ts == review["ts"] and c.account_id == acct.id for c in rows)

    maya = next(c for c in rows if c.owner_user_id == "U0MAYA")
    li = next(c for c in rows if c.owner_user_id == "U0LI")

    # someone who is neither uploader, owner, CSM nor admin: told who can, nothing changes
    world.driver.block_action(
        rb.A_CONFIRM, user_id="U0SAM", message=review, block_id=_item_block(li.id, "proposed")
    )
    world.standin.wait_ephemeral("U0SAM", "Only")
    eph = world.standin.ephemerals(user="U0SAM")
    assert eph and "Only" in eph[-1]["text"] and "<@U0LI>" in eph[-1]["text"]

    # Confirm → updated in place, showing who did it
    before = review
    r = world.driver.block_action(
        rb.A_CONFIRM, user_id="U0MAYA", message=review, block_id=_item_block(maya.id, "proposed")
    )
    assert r.status == 200
    cap.wait_review(
        up.channel, review["ts"], lambda b: _item_block(maya.id, "open") in b, "Maya's confirmed"
    )
    review = cap.message(up.channel, review["ts"])
    assert "Confirmed by <@U0MAYA>" in str(review["blocks"])

    # the same (stale) button again: polite ephemeral, no second change
    world.driver.block_action(
        rb.A_CONFIRM, user_id="U0MAYA", message=before, block_id=_item_block(maya.id, "proposed")
    )
    world.standin.wait_ephemeral("U0MAYA", "already open")
    assert "already open" in world.standin.ephemerals(user="U0MAYA")[-1]["text"]

    # Dismiss Li's, by Li himself (the owner)
    world.driver.block_action(
        rb.A_DISMISS, user_id="U0LI", message=review, block_id=_item_block(li.id, "proposed")
    )
    cap.wait_review(
        up.channel, review["ts"], lambda b: "Dismissed by <@U0LI>" in b, "Li's dismissed"
    )
    review = cap.message(up.channel, review["ts"])
    assert "Dismissed by <@U0LI>" in str(review["blocks"])

    with world.session() as s:
        trail = [
            (e.actor, e.action, e.from_state, e.to_state)
            for e in s.exec(
                select(AuditEvent).where(
                    AuditEvent.entity == "commitment", AuditEvent.entity_id == maya.id
                )
            )
        ]
    assert ("U0MAYA", "confirm", "proposed", "open") in trail


def _reviewed(world, cap, data: bytes, name: str = "call-2026-11-20.vtt"):  # type: ignore[no-untyped-def]
    up = cap.upload(name, data)
    review = cap.review(up)
    cap.idle()
    return up, review


def test_edit_owner_picker_confirm_all_and_account_picker(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    acme = world.seed_account("Acme Corp", "acme.com")
    globex = world.seed_account("Globex", "globex.com", csm="U0OMAR", contacts=[])
    # Li is not in the workspace roster under that name here: his promise needs an owner
    data = call_vtt.replace(b"<v Li Wei>", b"<v Li W.>")
    up, review = _reviewed(world, cap, data)
    rows = cap.commitments()
    li = next(c for c in rows if c.owner_name == "Li W.")
    assert li.owner_user_id is None and li.side != "customer"
    assert "Who owns this?" in str(review["blocks"])

    # Confirm without an owner is refused with a hint; picking Li fixes it
    world.driver.block_action(
        rb.A_CONFIRM, user_id="U0MAYA", message=review, block_id=_item_block(li.id, "proposed")
    )
    world.standin.wait_ephemeral("U0MAYA", "Pick who owns")
    assert "Pick who owns" in world.standin.ephemerals(user="U0MAYA")[-1]["text"]
    world.driver.block_action(
        rb.A_OWNER,
        user_id="U0MAYA",
        message=review,
        block_id=_item_block(li.id, "proposed"),
        selected_user="U0LI",
    )
    cap.wait_review(up.channel, review["ts"], lambda b: "<@U0LI>" in b, "Li as the owner")
    review = cap.message(up.channel, review["ts"])
    assert "<@U0LI>" in str(review["blocks"])

    # Edit: a modal prefilled with the commitment; saving changes text, date and category
    maya = next(c for c in rows if c.owner_user_id == "U0MAYA")
    r = world.driver.block_action(
        rb.A_EDIT, user_id="U0MAYA", message=review, block_id=_item_block(maya.id, "proposed")
    )
    world.standin.wait_view(r)
    [view] = world.standin.open_views("U0MAYA")
    assert r.status == 200 and view["callback_id"] == rb.EDIT_CALLBACK
    empty = world.driver.view_submission(view, {"text": "  "})
    assert empty.json["response_action"] == "errors"
    saved = world.driver.view_submission(
        view,
        {
            "text": "Send the Okta SSO guide (v2)",
            "due": "2026-11-26",
            "category": "follow_up",
            "owner": "U0MAYA",
        },
    )
    assert saved.status == 200 and not saved.problems
    cap.wait_review(
        up.channel, review["ts"], lambda b: "Okta SSO guide (v2)" in b, "the edited text"
    )
    review = cap.message(up.channel, review["ts"])
    assert "Send the Okta SSO guide (v2)" in str(review["blocks"])
    assert "Edited by <@U0MAYA>" in str(review["blocks"])

    # the account picker moves the call and its commitments to Globex
    world.driver.block_action(
        rb.A_ACCOUNT,
        user_id="U0MAYA",
        message=review,
        selected_option={"text": {"type": "plain_text", "text": "Globex"}, "value": str(globex.id)},
    )
    cap.wait_review(
        up.channel, review["ts"], lambda b: "found for *Globex*" in b, "the review on Globex"
    )
    assert all(c.account_id == globex.id for c in cap.commitments())
    assert acme.id != globex.id

    # Confirm all: everything still proposed that has an owner (or is the customer's)
    review = cap.message(up.channel, review["ts"])
    world.driver.block_action(rb.A_CONFIRM_ALL, user_id="U0MAYA", message=review)
    cap.wait_review(
        up.channel, review["ts"], lambda b: "Confirmed by" in b, "the review after Confirm all"
    )
    after = cap.commitments()
    # Priya is neither a member nor a known Acme contact: her promises wait for an owner
    waiting = [c for c in after if c.status == "proposed"]
    assert waiting and all(c.owner_name == "Priya Nair" for c in waiting)
    assert all(c.status == "open" for c in after if c.owner_name != "Priya Nair")
    world.standin.wait_ephemeral("U0MAYA", "still need an owner")
    assert "still need an owner" in world.standin.ephemerals(user="U0MAYA")[-1]["text"]
    for c in waiting:
        proposed = _item_block(c.id, "proposed")
        world.driver.block_action(
            rb.A_DISMISS,
            user_id="U0MAYA",
            message=cap.message(up.channel, review["ts"]),
            block_id=proposed,
        )
        cap.wait_review(
            up.channel, review["ts"], lambda b, p=proposed: p not in b, f"{c.id} dismissed"
        )
    world.standin.wait_until(  # the review settles without the button (not a count of calls)
        lambda: "Confirm all" not in str(cap.message(up.channel, review["ts"])["blocks"]) or None,
        what="the review without Confirm all",
    )
    edited = next(c for c in after if c.id == maya.id)
    assert edited.text == "Send the Okta SSO guide (v2)" and str(edited.due_date) == "2026-11-26"

    # /commitments, /commitments @li, /commitments Globex, unknown account
    said = world.standin.answer  # the ack's body, or what a late answer sent to response_url
    mine = world.driver.command("/commitments", "", user_id="U0MAYA")
    assert mine.status == 200 and not mine.problems
    assert "Your open commitments" in said(mine) and "Okta SSO guide" in said(mine)
    his = said(world.driver.command("/commitments", "<@U0LI|li>", user_id="U0MAYA"))
    assert "<@U0LI>" in his and "renewal quote" in his
    assert "Okta" not in his
    account = world.driver.command("/commitments", "globex", user_id="U0SAM")
    assert "Open commitments for Globex" in said(account)
    nothing = world.driver.command("/commitments", "Umbrella", user_id="U0MAYA")
    assert "No account matches" in said(nothing)


def test_commitments_settings_opens_the_digest_settings(slack) -> None:  # type: ignore[no-untyped-def]
    r = slack.driver.command("/commitments", "settings", user_id="U0SAM")
    assert r.status == 200
    slack.standin.wait_view(r)
    [view] = slack.standin.open_views("U0SAM")
    assert view["callback_id"] == "digest_settings"


def test_both_events_and_retries_of_one_upload_make_one_transcript(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    file_id = cap.add_file("call-2026-11-20.vtt", call_vtt)
    first = world.driver.file_share_message([file_id], channel_id="C0CSRISK")
    world.driver.file_shared(file_id, channel_id="C0CSRISK")
    world.driver.redeliver(first, retry_num=1)
    msg = world.standin.messages("C0CSRISK")[-1]
    up = type("U", (), {"channel": "C0CSRISK", "ts": msg["ts"]})()
    cap.wait_answer(up, "Commitments from")  # type: ignore[arg-type]
    cap.idle()
    assert len(cap.transcripts()) == 1
    readings = [
        c for c in world.standin.calls("chat.postMessage") if "Reading" in str(c.args.get("text"))
    ]
    assert len(readings) == 1
    reviews = [
        c
        for c in world.standin.calls("chat.postMessage")
        if "Commitments from" in str(c.args.get("blocks"))
    ]
    assert len(reviews) == 1


def test_same_bytes_uploaded_again_points_to_the_first_review(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    first, _ = _reviewed(slack, cap, call_vtt)
    count = len(cap.commitments())
    again = cap.upload("copy-of-call.vtt", call_vtt)
    answer = cap.wait_answer(again, "already read")
    cap.idle()
    assert "here is that review" in str(answer["blocks"])
    assert len(cap.commitments()) == count  # no second extraction
    rows = cap.transcripts()
    assert len(rows) == 2 and rows[1].status == "failed" and "Same file" in rows[1].error


def test_shortcut_reads_the_attached_file_or_says_there_is_none(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    plain = world.standin.post_user_message(world.team_id, "C0CSRISK", "U0MAYA", "hello")
    r = world.driver.message_shortcut("extract_commitments", plain)
    assert r.status == 200
    world.standin.wait_reply(r, "no file attached")
    assert "no file attached" in world.standin.ephemerals(user="U0MAYA")[-1]["text"]

    file_id = cap.add_file("call-2026-11-20.vtt", call_vtt)
    files = [world.standin.state.file_object(world.standin.state.files[file_id], world.standin.url)]
    msg = world.standin.post_user_message(world.team_id, "C0CSRISK", "U0LI", "notes", files=files)
    world.driver.message_shortcut("extract_commitments", msg, user_id="U0MAYA")
    up = type("U", (), {"channel": "C0CSRISK", "ts": msg["ts"]})()
    cap.wait_answer(up, "Commitments from")  # type: ignore[arg-type]
    cap.idle()
    assert cap.transcripts()[0].uploader_user_id == "U0MAYA"
    # the shortcut again on the same message: told where the first answer is, no new work
    again = world.driver.message_shortcut("extract_commitments", msg, user_id="U0MAYA")
    world.standin.wait_reply(again, "already read")
    assert "already read" in world.standin.ephemerals(user="U0MAYA")[-1]["text"]
    assert len(cap.transcripts()) == 1


def test_file_in_a_dm_with_the_app_is_read_there(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    with world.standin.state.lock:
        dm = world.standin.state.open_dm(world.team_id, "U0MAYA")
    up = cap.upload(
        "notes.txt",
        b"Maya Chen: I'll send the pricing sheet by Friday.\nDana Ruiz: Thanks!\n",
        channel=dm,
        mimetype="text/plain",
    )
    cap.wait_answer(up, "Commitments from")
    cap.idle()
    [c] = cap.commitments()
    assert c.owner_user_id == "U0MAYA" and c.due_date is not None


def test_file_in_a_group_dm_with_the_app_is_read_there(slack, cap) -> None:  # type: ignore[no-untyped-def]
    world = slack
    with world.standin.state.lock:
        group = world.standin.state.open_mpim(world.team_id, ["U0MAYA", "U0LI"])
    up = cap.upload(
        "call notes",  # no transcript suffix: in a (group) DM with the app every file is for it
        b"Maya Chen: I'll send the pricing sheet by Friday.\nDana Ruiz: Thanks!\n",
        channel=group,
        mimetype="text/plain",
    )
    cap.wait_answer(up, "Commitments from")
    cap.idle()
    [c] = cap.commitments()
    assert c.owner_user_id == "U0MAYA"


def test_manifest_subscribes_to_group_dms() -> None:
    from bot.manifest import build_manifest

    data = build_manifest(url="https://ft.example.com")
    assert "message.mpim" in data["settings"]["event_subscriptions"]["bot_events"]
    # message.mpim needs mpim:history only (no code reads group-DM info: no mpim:read)
    assert "mpim:history" in data["oauth_config"]["scopes"]["bot"]


def test_file_shared_alone_is_read_in_a_new_thread(slack, cap, call_vtt) -> None:  # type: ignore[no-untyped-def]
    world = slack
    file_id = cap.add_file("call-2026-11-20.vtt", call_vtt)
    world.driver.file_shared(file_id, channel_id="C0CSRISK")
    reading = world.standin.wait_for(
        "chat.postMessage", lambda c: "Reading" in str(c.args.get("text"))
    )[0]
    world.standin.wait_for(
        "chat.postMessage", lambda c: "Commitments from" in str(c.args.get("blocks"))
    )
    cap.idle()
    [t] = cap.transcripts()
    assert t.thread_ts == reading.response["ts"] and t.status == "review"
    with world.session() as s:
        assert s.get(Transcript, t.id).content == call_vtt
