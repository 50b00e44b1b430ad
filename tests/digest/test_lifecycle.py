"""Transcript-text retention, workspace export (10,000 rows) and purge."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlmodel import select

from bot.db import session_scope
from bot.lifecycle import scheduled as lifecycle_jobs
from bot.lifecycle import service as lifecycle
from bot.models import Commitment, Transcript

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def _transcript(rt, age_days: int, team: str = "T0TEST") -> int:  # type: ignore[no-untyped-def]
    with session_scope(rt.engine) as s:
        t = Transcript(
            team_id=team,
            sha256=f"{age_days:064d}",
            filename="call.vtt",
            content=b"WEBVTT\n\nsecret words",
            text="Maya: secret words",
            created_at=NOW - dt.timedelta(days=age_days),
        )
        s.add(t)
        s.flush()
        s.add(Commitment(team_id=team, transcript_id=t.id, text="Send the guide", status="open"))
        return t.id or 0


def test_retention_purges_text_keeps_hash_and_commitments(rt, notifier) -> None:  # type: ignore[no-untyped-def]
    old, new = _transcript(rt, 40), _transcript(rt, 5)
    assert lifecycle_jobs.run_retention(rt, notifier, NOW) == 0  # default: keep
    rt.settings = rt.settings.model_copy(update={"transcript_retention_days": 30})
    assert lifecycle_jobs.run_retention(rt, notifier, NOW) == 1
    assert lifecycle_jobs.run_retention(rt, notifier, NOW) == 0
    with session_scope(rt.engine) as s:
        o, n = s.get(Transcript, old), s.get(Transcript, new)
        assert o.text is None and o.content is None and o.text_purged_at is not None
        assert o.sha256 == f"{40:064d}"
        assert n.text == "Maya: secret words"
        assert len(list(s.exec(select(Commitment)))) == 2


def test_export_10000_rows_and_purge_one_team(rt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    table = Commitment.__table__  # type: ignore[attr-defined]
    with session_scope(rt.engine) as s:
        s.execute(
            sa.insert(table),
            [
                {
                    "team_id": "T0TEST",
                    "text": f"promise {i}",
                    "status": "open",
                    "side": "vendor",
                    "category": "other",
                    "confidence": 0.5,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(10_000)
            ],
        )
        s.execute(
            sa.insert(table),
            [
                {
                    "team_id": "T0OTHER",
                    "text": "theirs",
                    "status": "open",
                    "side": "vendor",
                    "category": "other",
                    "confidence": 0.5,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    _transcript(rt, 1)
    counts = lifecycle.export_team(rt.engine, "T0TEST", tmp_path)
    assert counts["commitment"] == 10_001 and counts["transcript"] == 1
    lines = (tmp_path / "commitment.jsonl").read_text().splitlines()
    assert len(lines) == 10_001
    assert {json.loads(line)["team_id"] for line in lines} == {"T0TEST"}
    blob = json.loads((tmp_path / "transcript.jsonl").read_text())["content"]
    assert "base64" in blob

    deleted = lifecycle.purge_team(rt.engine, "T0TEST")
    assert deleted["commitment"] == 10_001 and deleted["transcript"] == 1
    assert sum(lifecycle.count_team(rt.engine, "T0TEST").values()) == 0
    assert lifecycle.count_team(rt.engine, "T0OTHER")["commitment"] == 1
