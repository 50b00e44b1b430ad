"""A review Slack refuses (429/5xx beyond the client's retries) is posted later, not lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session, select

from bot.models import Commitment, Transcript

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

    def refused(s: Session) -> Transcript | None:
        t = s.exec(select(Transcript)).first()
        return t if t is not None and t.status == "review" and t.lease_until is not None else None

    world.wait_db(refused, "the review held for a retry after Slack refused it")
    rows = stored()
    assert rows and all(c.review_ts is None for c in rows)
    with world.session() as s:
        t = s.exec(select(Transcript)).one()
        assert t.status == "review" and t.lease_until is not None
        retry_at = (
            t.lease_until.replace(tzinfo=dt.UTC) if t.lease_until.tzinfo is None else t.lease_until
        )
    world.standin.clear_faults()
    world.tick(retry_at - dt.timedelta(seconds=1))  # not yet due
    assert all(c.review_ts is None for c in stored())
    world.tick(retry_at + dt.timedelta(seconds=1))
    assert all(c.review_ts for c in stored())
    with world.session() as s:
        assert s.exec(select(Transcript)).one().lease_until is None
    posted_reviews = [c for c in world.standin.calls("chat.postMessage") if c.ok]
    world.tick(retry_at + dt.timedelta(minutes=10))
    assert len([c for c in world.standin.calls("chat.postMessage") if c.ok]) == len(posted_reviews)
