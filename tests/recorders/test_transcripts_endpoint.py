"""The generic signed POST /transcripts: participants' domains pick the account; with no
match the review DM asks the host; bad input gets 400/401/413 and stores nothing."""

from __future__ import annotations

import base64

from .conftest import CALL, Rec


def _body(**extra: object) -> dict:
    return {
        "schema": "followthrough.transcript/v1",
        "id": "gong-7782342274025937895",
        "source": "gong",
        "title": "Quarterly review",
        "started_at": "2026-11-20T15:00:00Z",
        "host_email": "maya@vendor.io",
        "participants": [
            {"name": "Maya Chen", "email": "maya@vendor.io"},
            {"name": "Dana Ruiz", "email": "dana@globex.com"},
        ],
        "content": CALL.decode(),
    } | extra


def test_participants_domain_matches_the_account(rec: Rec) -> None:
    rec.world.seed_account()  # acme.com
    globex = rec.world.seed_account("Globex", "globex.com", contacts=[])
    ans = rec.generic.post(_body())
    assert ans.status == 202 and ans.body["accepted"] == 1
    assert rec.generic.post(_body()).body["duplicates"] == 1
    rec.tick()
    rec.dm("U0MAYA", "Commitments from")
    [t] = rec.transcripts()
    assert t.account_id == globex.id


def test_no_matching_account_asks_the_host(rec: Rec) -> None:
    body = _body(
        participants=[{"email": "someone@unknown.example"}],
        title="Intro call",
        content_base64=base64.b64encode(CALL).decode(),
        content=None,
    )
    assert rec.generic.post(body).status == 202
    rec.tick()
    review = rec.dm("U0MAYA", "Commitments from")
    assert "no account guessed" in str(review["blocks"])
    [t] = rec.transcripts()
    assert t.account_id is None


def test_bad_input_is_refused_and_nothing_is_stored(rec: Rec) -> None:
    assert rec.generic.post(_body(), headers={"content-type": "application/json"}).status == 401
    assert rec.generic.post(None, raw=b"{not json").status == 400
    assert rec.generic.post({"id": "x"}).status == 400  # no content, no link
    assert rec.generic.post(_body(content_base64="***", content=None)).status == 400
    big = b"x" * (30 * 1024 * 1024)
    assert rec.generic.post(None, raw=big).status == 413
    assert rec.deliveries() == []
