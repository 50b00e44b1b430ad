"""A big, realistic database: for the speed benchmarks (`bench/engine.py`, `bench/ack.py`) and
the query-plan tests (`bot.devtools.plans`).

`seed(url, cases=…)` fills a migrated PostgreSQL database with one workspace's history at
scale: `cases` running cases of 5 steps each, and what years of use leave behind — sent
outbox rows, audit rows, done and open commitments, read transcripts — so a scheduled job
that scans history (instead of probing a due index) shows up as a tick that grows with
`cases`. Bulk rows go in with COPY (100,000 cases in well under a minute).

What is due at `now` is exactly: the first `due` cases' step 1 (a Slack step posting to
`OUT_CHANNEL`, assigned to one of `assignees` people). Nothing else is due at `now`:
reminders, follow-ups, digests, CRM and retention moments all lie in the future, so
`run_due(now - 2h)` is a tick with nothing to do, and `run_due(now)` finds exactly `due`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator

import psycopg
from psycopg.types.json import Jsonb

from bot.db import engine_for, session_scope
from bot.models import Playbook
from bot.playbooks.service import load_dir
from bot.workspaces.service import ensure_workspace

TEAM = "T0BENCH"
OUT_CHANNEL = "C0BENCHOUT"
STEPS_PER_CASE = 5
TZ = "UTC"


def users(n: int) -> list[str]:
    return [f"U{i:05d}" for i in range(n)]


def _copy(cur: psycopg.Cursor, table: str, cols: list[str], rows: Iterable[tuple]) -> int:
    n = 0
    with cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed(
    url: str,
    *,
    cases: int = 10_000,
    due: int = 1_000,
    assignees: int = 500,
    now: dt.datetime,
    fetched_at: dt.datetime | None = None,
) -> dict[str, int]:
    """Seed `url` (migrated, empty) and ANALYZE it; returns the row counts."""
    people = users(assignees)
    engine = engine_for(url)
    with session_scope(engine) as s:
        ensure_workspace(s, TEAM, "Bench Inc", f"U{TEAM}BOT")
        load_dir(s, TEAM, actor="bench")  # the seed playbooks, as a fresh install has them
    with session_scope(engine) as s:
        playbook = (
            s.query(Playbook).filter_by(team_id=TEAM).order_by(Playbook.id).first()  # type: ignore[arg-type]
        )
        assert playbook is not None
        playbook_id, risk_key = playbook.id, playbook.key
    counts: dict[str, int] = {}
    seen = fetched_at or now
    pg_url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        counts["person"] = _copy(
            cur,
            "person",
            [
                "team_id",
                "slack_user_id",
                "name",
                "real_name",
                "email",
                "tz",
                "role",
                "is_admin",
                "deactivated",
                "digest_enabled",
                "next_digest_at",
                "fetched_at",
            ],
            (
                (TEAM, u, u, u, f"{u.lower()}@bench.io", TZ, "csm", False, False, True)
                + (now + dt.timedelta(hours=20), seen)
                for u in people
            ),
        )
        counts["account"] = _copy(
            cur,
            "account",
            ["id", "team_id", "name", "domain", "csm_user_id", "created_at", "updated_at"],
            (
                (i + 1, TEAM, f"Customer {i}", f"c{i}.com", people[i % assignees], now, now)
                for i in range(cases)
            ),
        )
        counts["case"] = _copy(
            cur,
            "case",
            [
                "id",
                "team_id",
                "account_id",
                "risk_key",
                "playbook_id",
                "playbook_version",
                "owner_user_id",
                "reporter_user_id",
                "context",
                "gathered",
                "status",
                "outcome",
                "current_step",
                "total_steps",
                "notes",
                "opened_at",
                "started_at",
                "updated_at",
            ],
            (
                (i + 1, TEAM, i + 1, risk_key, playbook_id, 1, people[i % assignees])
                + (people[i % assignees], "Usage fell 40%", Jsonb({}), "running", "open", 1)
                + (STEPS_PER_CASE, "", now, now, now)
                for i in range(cases)
            ),
        )
        counts["casestep"] = _copy(
            cur,
            "casestep",
            [
                "team_id",
                "case_id",
                "position",
                "summary",
                "medium",
                "assignee_role",
                "assignee_user_id",
                "assignee_fallback",
                "recipient_spec",
                "recipient_label",
                "recipient_ref",
                "delay_seconds",
                "draft",
                "status",
                "due_at",
                "attempts",
                "created_at",
                "updated_at",
            ],
            _steps(cases, due, people, now),
        )
        counts["commitment"] = _copy(
            cur,
            "commitment",
            [
                "team_id",
                "account_id",
                "owner_user_id",
                "side",
                "text",
                "due_date",
                "category",
                "confidence",
                "status",
                "followup_at",
                "done_at",
                "created_at",
                "updated_at",
            ],
            _commitments(cases, people, now),
        )
        counts["outbound_message"] = _copy(
            cur,
            "outbound_message",
            [
                "team_id",
                "key",
                "kind",
                "op",
                "user_id",
                "channel",
                "text",
                "blocks",
                "detail",
                "status",
                "version",
                "attempts",
                "failures",
                "due_at",
                "maybe_sent",
                "sent_channel",
                "sent_ts",
                "created_at",
                "updated_at",
                "sent_at",
            ],
            _sent_history(cases, people, now),
        )
        counts["auditevent"] = _copy(
            cur,
            "auditevent",
            ["team_id", "at", "actor", "entity", "entity_id", "action", "detail"],
            (
                (TEAM, now - dt.timedelta(days=30), "system", "case_step", n, "dm_posted")
                + (Jsonb({}),)
                for n in range(cases * 2)
            ),
        )
        counts["transcript"] = _copy(
            cur,
            "transcript",
            [
                "team_id",
                "sha256",
                "filename",
                "size_bytes",
                "text",
                "speakers",
                "word_count",
                "status",
                "attempts",
                "created_at",
                "processed_at",
                "text_purged_at",
            ],
            _transcripts(max(1, cases // 10), now),
        )
        counts["crm_write"] = _copy(
            cur,
            "crm_write",
            ["team_id", "vendor", "key", "kind", "entity", "entity_id", "desired", "status"]
            + ["external_id", "attempts", "created_at", "done_at"],
            (
                (TEAM, "hubspot", f"ft-commitment-{i + 1}", "task", "commitment", i + 1)
                + ("done", "done", f"task-{i + 1}", 1, now - dt.timedelta(days=59))
                + (now - dt.timedelta(days=59),)
                for i in range(cases)
            ),
        )
        conn.commit()
        cur.execute("ANALYZE")
    return counts


def _steps(cases: int, due: int, people: list[str], now: dt.datetime) -> Iterator[tuple]:
    n = len(people)
    for i in range(cases):
        who = people[i % n]
        for pos in range(1, STEPS_PER_CASE + 1):
            status, due_at = "planned", None
            if pos == 1 and i < due:
                status, due_at = "scheduled", now - dt.timedelta(minutes=1)
            elif pos == 1 and i < cases // 2:
                status, due_at = "scheduled", now + dt.timedelta(days=1 + i % 5)
            elif pos == 1:  # its DM is out; the reminder is due later
                status, due_at = "awaiting", now + dt.timedelta(hours=3 + i % 40)
            yield (
                TEAM,
                i + 1,
                pos,
                f"Step {pos}",
                "slack",
                "csm",
                who,
                False,
                "#bench-out",
                "#bench-out",
                OUT_CHANNEL,
                3600,
                f"Case {i + 1} step {pos}: checking usage with the champion.",
                status,
                due_at,
                0,
                now,
                now,
            )


def _commitments(cases: int, people: list[str], now: dt.datetime) -> Iterator[tuple]:
    """Two per case: one done long ago (history), one open with its reminder ahead."""
    n = len(people)
    old = now - dt.timedelta(days=60)
    for i in range(cases):
        who = people[i % n]
        due_day = (now + dt.timedelta(days=10 + i % 20)).date()
        remind_at = now + dt.timedelta(days=9 + i % 20)
        done = ("Send the usage report", old.date(), "deliverable", 0.9, "done", None, old)
        open_ = ("Share the renewal quote", due_day, "deliverable", 0.9, "open", remind_at, None)
        yield (TEAM, i + 1, who, "vendor", *done, old, old)
        yield (TEAM, i + 1, who, "vendor", *open_, now, now)


def _sent_history(cases: int, people: list[str], now: dt.datetime) -> Iterator[tuple]:
    """Three delivered messages per case: the outbox's history, never due again."""
    n = len(people)
    old = now - dt.timedelta(days=20)
    for i in range(cases):
        for k in range(3):
            yield (
                TEAM,
                f"history:{i}:{k}",
                "step_dm",
                "post",
                people[i % n],
                f"D{people[i % n]}",
                "An old step DM",
                Jsonb([]),
                Jsonb({}),
                "sent",
                0,
                1,
                0,
                old,
                False,
                f"D{people[i % n]}",
                f"{old.timestamp():.6f}",
                old,
                old,
                old,
            )


def _transcripts(count: int, now: dt.datetime) -> Iterator[tuple]:
    """Calls read weeks ago (in review); half of them already purged of their text."""
    for i in range(count):
        created = now - dt.timedelta(days=10 + i % 300)
        purged = created + dt.timedelta(days=5) if i % 2 else None
        yield (
            TEAM,
            hashlib.sha256(str(i).encode()).hexdigest(),
            f"call-{i}.vtt",
            1000,
            None if purged else "Maya: I'll send it Friday.",
            Jsonb(["Maya"]),
            6,
            "review",
            1,
            created,
            created,
            purged,
        )
