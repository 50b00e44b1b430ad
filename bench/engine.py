"""Speed of the step engine at scale, on a throwaway PostgreSQL.

Seeds 10,000 running cases (50,000 steps: 1,000 due now, the rest later, planned or
awaiting a decision), then reports:
  1. a tick with nothing due (the engine's three claims: steps, follow-ups, deliveries);
  2. the atomic claim of 1,000 due steps (UPDATE … FOR UPDATE SKIP LOCKED … RETURNING);
  3. steps/second posted to the local Slack stand-in with its per-channel rate limit ON.
Usage: python bench/engine.py [--assignees 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot.cases import engine as eng  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import engine_for, session_scope  # noqa: E402
from bot.devtools.postgres import ThrowawayPostgres  # noqa: E402
from bot.devtools.standin import SlackStandin  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Account, Case, CaseStep, Person, Playbook  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.scheduler import due_jobs, run_due  # noqa: E402
from bot.slack.outbound import SlackNotifier  # noqa: E402

TEAM = "T0BENCH"
NOW = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York
CASES, STEPS_PER_CASE, DUE = 10_000, 5, 1_000


def seed(engine: sa.Engine, assignees: int) -> None:
    users = [f"U{i:05d}" for i in range(assignees)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Person.__table__),
            [  # type: ignore[attr-defined]
                {
                    "team_id": TEAM,
                    "slack_user_id": u,
                    "name": u,
                    "tz": "America/New_York",
                    "role": "csm",
                    "is_admin": False,
                    "deactivated": False,
                    "digest_enabled": True,
                }
                for u in users
            ],
        )
        conn.execute(
            sa.insert(Playbook.__table__),
            [
                {  # type: ignore[attr-defined]
                    "id": 1,
                    "team_id": TEAM,
                    "key": "usage_drop",
                    "version": 1,
                    "name": "Usage drop",
                    "summary": "Usage fell",
                    "definition": {},
                    "source": "file",
                    "retired": False,
                    "created_at": NOW,
                }
            ],
        )
        conn.execute(
            sa.insert(Account.__table__),
            [  # type: ignore[attr-defined]
                {
                    "id": i + 1,
                    "team_id": TEAM,
                    "name": f"Customer {i}",
                    "domain": f"c{i}.com",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(CASES)
            ],
        )
        conn.execute(
            sa.insert(Case.__table__),
            [  # type: ignore[attr-defined]
                {
                    "id": i + 1,
                    "team_id": TEAM,
                    "account_id": i + 1,
                    "risk_key": "usage_drop",
                    "playbook_id": 1,
                    "playbook_version": 1,
                    "owner_user_id": users[i % assignees],
                    "context": "Usage fell 40%",
                    "gathered": {},
                    "status": "running",
                    "outcome": "open",
                    "current_step": 1,
                    "total_steps": STEPS_PER_CASE,
                    "notes": "",
                    "opened_at": NOW,
                    "started_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(CASES)
            ],
        )
        rows = []
        for i in range(CASES):
            for pos in range(1, STEPS_PER_CASE + 1):
                status, due = "planned", None
                if pos == 1 and i < DUE:
                    status, due = "scheduled", NOW - dt.timedelta(minutes=1)
                elif pos == 1 and i < CASES // 2:
                    status, due = "scheduled", NOW + dt.timedelta(days=1 + i % 5)
                elif pos == 1:
                    status, due = "awaiting", NOW + dt.timedelta(hours=3 + i % 40)
                rows.append(
                    {
                        "team_id": TEAM,
                        "case_id": i + 1,
                        "position": pos,
                        "summary": f"Step {pos}",
                        "medium": "internal",
                        "assignee_role": "csm",
                        "assignee_user_id": users[i % assignees],
                        "assignee_fallback": False,
                        "recipient_spec": "",
                        "recipient_label": "",
                        "delay_seconds": 3600,
                        "draft": "Check usage with the champion.",
                        "status": status,
                        "due_at": due,
                        "attempts": 0,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
        conn.execute(sa.insert(CaseStep.__table__), rows)  # type: ignore[attr-defined]
        conn.execute(sa.text("ANALYZE"))


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class NoCalls:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        raise AssertionError(f"nothing is due, yet the engine called {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignees", type=int, default=500)
    args = parser.parse_args()
    pg = ThrowawayPostgres().start()
    try:
        admin = sa.create_engine(pg.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE ft_bench"))
        url = pg.url("ft_bench")
        upgrade(url)
        engine = engine_for(url)
        t0 = time.perf_counter()
        seed(engine, args.assignees)
        print(
            f"seeded {CASES:,} running cases / {CASES * STEPS_PER_CASE:,} steps "
            f"({DUE:,} due, {args.assignees} assignees) in {time.perf_counter() - t0:.1f}s"
        )
        settings = load_settings(
            database_url=url,
            slack_bot_token=f"xoxb-{TEAM}",
            slack_signing_secret="x",
            _env_file=None,
        )
        rt = Runtime(settings=settings, engine=engine)
        quiet = NOW - dt.timedelta(hours=2)

        def idle_tick() -> None:
            for _, job in eng.DUE_JOBS:
                assert job(rt, NoCalls(), quiet) == 0  # type: ignore[arg-type]

        idle_tick()
        print(f"tick with nothing due (3 claims): median {median_ms(idle_tick, 50):.2f} ms")

        def whole_tick() -> None:
            done = run_due(rt, NoCalls(), quiet)  # type: ignore[arg-type]
            assert all(n == 0 for n in done.values()), done

        whole_tick()
        print(
            f"whole run_due with nothing due ({len(due_jobs())} jobs): "
            f"median {median_ms(whole_tick, 20):.2f} ms"
        )
        lease = NOW + dt.timedelta(minutes=2)
        with engine.connect() as conn:
            plan = conn.execute(
                sa.text(
                    'EXPLAIN SELECT s.id FROM casestep s JOIN "case" c ON c.id = s.case_id '
                    "WHERE s.status IN ('scheduled','claimed') AND s.due_at <= :now "
                    "AND c.status = 'running' ORDER BY s.due_at LIMIT 500"
                ),
                {"now": quiet},
            ).all()
        print("  plan:", " / ".join(r[0].strip() for r in plan if "Scan" in r[0]))

        claimed_counts: list[int] = []

        def claim_1000() -> None:
            session = sa.orm.Session(engine)
            try:
                claimed_counts.append(len(eng.claim_due_steps(session, NOW, lease, 1000)))
            finally:
                session.rollback()
                session.close()

        ms = median_ms(claim_1000, 7)
        assert set(claimed_counts) == {DUE}, claimed_counts
        print(f"claim of {DUE:,} due steps: median {ms:.1f} ms")

        with SlackStandin(enforce_channel_rate=True) as standin:
            standin.add_team(TEAM, "Bench")
            for i in range(args.assignees):
                standin.add_user(TEAM, f"U{i:05d}", f"user{i}")
            rt.settings = load_settings(
                database_url=url,
                slack_bot_token=f"xoxb-{TEAM}",
                slack_signing_secret="x",
                slack_api_url=standin.api_url,
                _env_file=None,
            )
            notifier = SlackNotifier(WebClient(base_url=standin.api_url, token=f"xoxb-{TEAM}"))
            sent, ticks, start = 0, 0, time.perf_counter()
            while sent < DUE and ticks < 200:
                now = NOW + dt.timedelta(seconds=time.perf_counter() - start)
                sent += eng.post_due_steps(rt, notifier, now)
                ticks += 1
            elapsed = time.perf_counter() - start
            limited = [c for c in standin.calls("chat.postMessage") if c.status == 429]
            print(
                f"posted {sent:,} step DMs in {elapsed:.2f}s over {ticks} ticks: "
                f"{sent / elapsed:.0f} steps/s; 429s from the per-channel limit: "
                f"{len(limited)}"
            )
        with session_scope(engine) as s:
            awaiting = s.execute(
                sa.text(
                    "SELECT count(*) FROM casestep WHERE status = 'awaiting' AND dm_ts IS NOT NULL"
                )
            ).scalar_one()
        print(f"steps awaiting a decision with a recorded DM ts: {awaiting:,}")
        engine.dispose()
        admin.dispose()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
