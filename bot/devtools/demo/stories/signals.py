"""Signals in: Vitally's health score for Acme drops; a suggested case reaches Maya (the CSM)
by DM with what fired and why; she starts it and the playbook runs; a repeat adds to the
same suggestion. Then a Zoom call's commitments arrive without anyone uploading anything:
Zoom's webhook, the download with its token, and the review in Maya's DM."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from bot import clock
from bot.devtools.demo.stories.risk import show
from bot.devtools.webhook_senders import StandardWebhooksSender, signal
from bot.devtools.world import CS_CHANNEL, World
from bot.devtools.zoom import ZoomDownloadServer, ZoomWebhookSender, transcript_completed
from bot.models import Case
from bot.signals.blocks import START
from bot.signals.models import SignalSuggestion

# Monday 23 November 2026, 10:00 in New York
AT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
FOLLOW_UP_CALL = b"""WEBVTT

00:00:01.000 --> 00:00:06.000
<v Maya Chen>Thanks for making time, Dana. I saw usage dipped on your side last week.

00:00:06.500 --> 00:00:13.000
<v Dana Ruiz>Yes, the reporting team stopped using the dashboards after the SSO change
broke their logins.

00:00:13.500 --> 00:00:20.000
<v Maya Chen>That's on us. I'll send you the fixed SSO setup guide by Wednesday.

00:00:20.500 --> 00:00:27.000
<v Priya Nair>And I will re-invite the reporting team once the guide is in, by Friday.

00:00:27.500 --> 00:00:34.000
<v Maya Chen>Great. I'll also book a thirty-minute training for the reporting team next week.
"""


def _dm(world: World, user: str, needle: str) -> dict[str, Any]:
    """The newest DM to `user` that shows `needle` (waits for it)."""
    return world.standin.wait_message(
        user, lambda m: needle in str(m.get("text")) + str(m.get("blocks")), 20, needle
    ) | {"channel": world.standin.dm_channel(user)}


def _tick(world: World, at: dt.datetime, why: str) -> None:
    done = world.tick(at)
    world.say(
        f"\n$ followthrough tick --now {at.isoformat()}   # {why}: "
        f"{done.get('signals.evaluate', 0)} signal(s) evaluated, "
        f"{done.get('outbox.send', 0)} message(s) sent, "
        f"{done.get('recorders.downloads', 0)} transcript(s) downloaded"
    )


def story(world: World) -> None:
    world.say("\n== Signals in: a health score drops, a case is suggested and started ==")
    clock.set_now(AT)
    world.seed_account(
        "Acme Corp",
        "acme.com",
        contacts=[
            {"name": "Dana Ruiz", "email": "dana@acme.com", "role": "champion"},
            {"name": "Priya Nair", "email": "priya@acme.com", "role": "admin"},
        ],
    )
    secret = world.settings.signals_webhook_secret or ""
    vitally = StandardWebhooksSender(f"{world.http_root}/signals", secret)
    body = signal("acme.com", "health_score", 38, 71, reason="Active users down 40% week on week")
    ans = vitally.post(body)
    world.say(
        "Vitally's playbook webhook step posts to /signals (Standard Webhooks signature):\n"
        f"  {body['signal']}  →  HTTP {ans.status} {ans.body}"
    )
    _tick(world, AT, "the worker runs the rules")
    dm = _dm(world, "U0MAYA", "Suggested case")
    show(world, "Maya's DM", dm["blocks"])

    world.say("\nMaya clicks “Start plan”:")
    world.driver.block_action(START, user_id="U0MAYA", message=dm)
    _dm(world, "U0MAYA", "is running")
    with world.session() as s:
        sug = s.exec(select(SignalSuggestion).order_by(SignalSuggestion.id.desc())).first()  # type: ignore[union-attr]
        case = s.get(Case, sug.case_id) if sug and sug.case_id else None
    assert sug is not None and case is not None
    suggestion_id = sug.id
    world.say(
        f"  → case #{case.id} ({case.risk_key.replace('_', ' ')}) is {case.status}; "
        f"its card is in #cs-risk and step 1 is scheduled for its assignee."
    )
    card = world.standin.wait_message(CS_CHANNEL, lambda m: f"#{case.id}" in m.get("text", ""))
    show(world, "#cs-risk", card["blocks"], keep=4)

    vitally.post(signal("acme.com", "health_score", 35, 38))
    _tick(world, AT + dt.timedelta(hours=1), "a day's second reading")
    with world.session() as s:
        sug = s.get(SignalSuggestion, suggestion_id)
        n = sug.signal_count if sug else 0
        same = list(
            s.exec(
                select(SignalSuggestion).where(
                    SignalSuggestion.account_id == case.account_id,
                    SignalSuggestion.risk_key == "usage_dip",
                )
            )
        )
    world.say(
        f"The repeat is added to the same suggestion (#{sug.id if sug else '?'}: {n} signals; "
        f"{len(same)} usage-dip suggestion for Acme) — no second DM, no second case."
    )
    vitally.close()

    world.say("\n== A Zoom call's commitments arrive without an upload ==")
    files = ZoomDownloadServer().start()
    zoom = ZoomWebhookSender(
        f"{world.http_root}/webhooks/zoom", world.settings.zoom_webhook_secret_token or ""
    )
    try:
        world.say(
            "Zoom checks the endpoint (endpoint.url_validation): "
            + ("ok" if zoom.validate_url() else "FAILED")
        )
        url, token = files.add(FOLLOW_UP_CALL)
        event = transcript_completed(
            url,
            token,
            topic="Acme <> Vendor: usage follow-up",
            start="2026-11-23T16:00:00Z",
            meeting_uuid="demoMeetingUuid==",
            file_id="demo-transcript-1",
        )
        first, again = zoom.post(event), zoom.post(event)
        world.say(
            f"recording.transcript_completed → HTTP {first.status} {first.body}; Zoom's retry → "
            f"{again.body}"
        )
        _tick(world, AT + dt.timedelta(hours=2), "download with the token, then capture reads it")
        review = _dm(world, "U0MAYA", "Commitments from Acme <> Vendor: usage follow-up")
        show(world, "Maya's DM (the host)", review["blocks"], max_lines=24)
    finally:
        zoom.close()
        files.stop()
