"""Zoom's transcript webhook: URL validation, signatures, one transcript per delivery, the
download with its token (retried, then reported), and the review DM to the host."""

from __future__ import annotations

import time

from bot.devtools.zoom import transcript_completed

from .conftest import CALL, NOW, Rec


def test_url_validation_answers_the_challenge(rec: Rec) -> None:
    assert rec.zoom.validate_url()


def test_unsigned_stale_or_forged_zoom_requests_are_refused(rec: Rec) -> None:
    url, token = rec.files.add(CALL)
    event = transcript_completed(url, token)
    assert rec.zoom.post(event, signed=False).status == 401
    assert rec.zoom.post(event, ts=int(time.time()) - 3600).status == 401
    forged = rec.zoom.__class__(rec.zoom.url, "not-the-secret")
    assert forged.post(event).status == 401
    forged.close()
    assert rec.deliveries() == []


def test_transcript_completed_becomes_one_review_dm_to_the_host(rec: Rec) -> None:
    acme = rec.world.seed_account()
    url, token = rec.files.add(CALL)
    event = transcript_completed(url, token)
    first = rec.zoom.post(event)
    assert first.status == 200 and first.body["accepted"] == 1
    again = rec.zoom.post(event)  # Zoom retries when it did not hear back in time
    assert again.status == 200 and again.body["duplicates"] == 1
    rec.tick()
    review = rec.dm("U0MAYA", "Commitments from")
    assert "Acme" in str(review["blocks"])
    [t] = rec.transcripts()
    assert t.account_id == acme.id and t.uploader_user_id == "U0MAYA"
    assert rec.commitments(), "the call's commitments were proposed"
    assert all(c.status == "proposed" and c.review_ts for c in rec.commitments())
    assert len(rec.deliveries()) == 1 and rec.deliveries()[0].download_token is None


def test_download_failing_is_retried_then_reported_to_the_host(rec: Rec) -> None:
    url, token = rec.files.add(CALL)
    rec.files.fail(2)
    rec.zoom.post(transcript_completed(url, token))
    rec.tick()
    rec.tick(NOW.replace(minute=1))  # the first retry waits 30 s
    rec.tick(NOW.replace(minute=5))
    assert [s for _, s in rec.files.downloads()] == [503, 503, 200]
    assert len(rec.transcripts()) == 1
    # an expired token: retried, then the host is told what to do
    url2, token2 = rec.files.add(CALL + b"\n")
    rec.files.expire_all()
    rec.zoom.post(transcript_completed(url2, token2, meeting_uuid="other==", file_id="f2"))
    for minutes in (10, 11, 14, 30, 50):
        rec.tick(NOW.replace(minute=minutes))
    note = rec.dm("U0MAYA", "couldn't fetch the transcript")
    assert "upload it here" in note["text"]
    assert rec.deliveries()[-1].status == "failed"
