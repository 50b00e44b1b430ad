"""A review Slack refuses (429/5xx beyond the client's retries) is posted later, not lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import select

from bot.models import Commitment, OutboundMessage

SAMPLES = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples"
SAMPLE = SAMPLES / "call-2026-11-20.vtt"


def test_review_refused_by_slack_is_posted_on_a_later_tick(slack) -> None:
    world = slack
    world.seed_account("Acme Corp", "acme.com")
    world.standin.add_file(
        world.team_id,
        "F0CALL",
        "call-2026-11-20.vtt",
        SAMPLE.read_bytes(),
        user="U0MAYA",
        channels=["C0CSRISK"],
    )
    # Every chat.postMessage fails for a while (the "Reading…" note too) with an error the
    # client does not retry itself, so the app's own retry is what is tested.
    world.standin.fail("chat.postMessage", "internal_error", times=None)
    world.driver.file_share_message(["F0CALL"], user_id="U0MAYA", channel_id="C0CSRISK")

    def stored() -> list[Commitment]:
        with world.session() as s:
            return list(s.exec(select(Commitment)))

    def review_rows() -> list[OutboundMessage] | None:
        with world.session() as s:
            rows = list(
                s.exec(select(OutboundMessage).where(OutboundMessage.kind == "capture_review"))
            )
        return rows if rows and all(r.status == "pending" and r.failures for r in rows) else None

    # the review is stored and waits in the outbox, Slack having refused it
    [row] = world.standin.wait_until(review_rows, what="the refused review queued for a retry")
    rows = stored()
    assert rows and all(c.review_ts is None for c in rows)
    retry_at = row.due_at.replace(tzinfo=dt.UTC) if row.due_at.tzinfo is None else row.due_at
    world.standin.clear_faults()
    world.tick(retry_at - dt.timedelta(seconds=1))  # not yet due
    assert all(c.review_ts is None for c in stored())
    world.tick(retry_at + dt.timedelta(seconds=1))
    assert all(c.review_ts for c in stored())
    posted_reviews = [c for c in world.standin.calls("chat.postMessage") if c.ok]
    world.tick(retry_at + dt.timedelta(minutes=10))
    assert len([c for c in world.standin.calls("chat.postMessage") if c.ok]) == len(posted_reviews)
