"""How long building and sending the daily digest to N people takes, against the local Slack
stand-in (real HTTP, real slack_sdk WebClient with its 429 retry handler, real database).

Usage: python bench/digest.py [--people 5000] [--ratelimit 50] [--postgres]

Each run: N people (3 open commitments each, one overdue), all due at 09:00 New York on a
Monday. It ticks `run_digests` like the worker does (BATCH_PER_TICK per tick) until every
digest is out, then checks that nobody got two. `--ratelimit K` makes the stand-in answer
K chat.postMessage calls with HTTP 429 (Retry-After: 0) to show they are retried, not lost.
Timings are wall-clock on this machine; Slack itself adds network latency and its own limits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.db import engine_for, session_scope  # noqa: E402
from bot.devtools.standin import SlackStandin  # noqa: E402
from bot.digest import scheduled as digest_jobs  # noqa: E402
from bot.digest import service as digest  # noqa: E402
from bot.digest.blocks import digest_message  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Commitment, Person  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.slack.client import make_client  # noqa: E402
from bot.slack.outbound import SlackNotifier  # noqa: E402

TEAM = "T0BENCH"
MON_9_NY = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)


def seed(engine: sa.Engine, standin: SlackStandin, people: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for i in range(people):
        standin.add_user(TEAM, f"U{i:06d}", f"user{i}", f"User {i}", f"u{i}@vendor.io")
    with session_scope(engine) as s:
        s.execute(
            sa.insert(Person.__table__),
            [  # type: ignore[attr-defined]
                {
                    "team_id": TEAM,
                    "slack_user_id": f"U{i:06d}",
                    "name": f"user{i}",
                    "tz": "America/New_York",
                    "role": "csm",
                    "is_admin": False,
                    "deactivated": False,
                    "digest_enabled": True,
                }
                for i in range(people)
            ],
        )
        rows = []
        for i in range(people):
            for k, due in enumerate(
                (TODAY - dt.timedelta(days=2), TODAY, TODAY + dt.timedelta(days=9))
            ):
                rows.append(
                    {
                        "team_id": TEAM,
                        "owner_user_id": f"U{i:06d}",
                        "text": f"Promise {k} of user {i}: send the onboarding deck",
                        "due_date": due,
                        "status": "open",
                        "side": "vendor",
                        "category": "other",
                        "confidence": 0.8,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        s.execute(sa.insert(Commitment.__table__), rows)  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--ratelimit", type=int, default=50)
    ap.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL")
    args = ap.parse_args()

    pg = None
    tmp = tempfile.TemporaryDirectory()
    if args.postgres:
        from bot.devtools.postgres import ThrowawayPostgres

        pg = ThrowawayPostgres().start()
        url = pg.url()
    else:
        url = f"sqlite:///{tmp.name}/bench.db"
    upgrade(url)
    with SlackStandin() as standin:
        standin.add_team(TEAM, "Bench Inc")
        settings = load_settings(
            database_url=url,
            slack_bot_token=f"xoxb-{TEAM}",
            slack_api_url=standin.api_url,
            run_scheduler=False,
        )
        engine = engine_for(url)
        t0 = time.perf_counter()
        seed(engine, standin, args.people)
        seed_s = time.perf_counter() - t0

        # building alone (pure): what the worker spends per digest before any HTTP
        with session_scope(engine) as s:
            t0 = time.perf_counter()
            items = [digest.open_items(s, TEAM, f"U{i:06d}", TODAY) for i in range(200)]
            query_s = (time.perf_counter() - t0) / 200
        t0 = time.perf_counter()
        for it in items:
            digest_message(it, TODAY)
        build_s = (time.perf_counter() - t0) / len(items)

        rt = Runtime(settings=settings, engine=engine)
        notifier = SlackNotifier(make_client(settings))
        if args.ratelimit:
            standin.fail("chat.postMessage", "ratelimited", times=args.ratelimit, retry_after=0)
        ticks, sent, tick_s = 0, 0, []
        t_all = time.perf_counter()
        now = MON_9_NY
        while sent < args.people and ticks < 10 * (args.people // digest_jobs.BATCH_PER_TICK + 2):
            t0 = time.perf_counter()
            sent += digest_jobs.run_digests(rt, notifier, now)
            tick_s.append(time.perf_counter() - t0)
            ticks += 1
            now += dt.timedelta(seconds=settings.scheduler_interval_seconds)
        total_s = time.perf_counter() - t_all
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
        per_user = Counter(c.args.get("channel") for c in posts)
        limited = [c for c in standin.calls("chat.postMessage") if c.status == 429]
        rt.close()
    if pg is not None:
        pg.stop()

    backend = "postgres" if args.postgres else "sqlite"
    print(f"people: {args.people}  backend: {backend}  seed: {seed_s:.1f}s")
    print(f"per digest: query {query_s * 1000:.2f} ms, build blocks {build_s * 1000:.2f} ms")
    print(
        f"send: {sent} digests in {total_s:.1f}s over {ticks} ticks"
        f" of ≤{digest_jobs.BATCH_PER_TICK}"
        f" ({sent / total_s:.0f}/s; tick median {statistics.median(tick_s):.2f}s, "
        f"max {max(tick_s):.2f}s)"
    )
    print(
        f"429s injected and retried: {len(limited)}; DMs per person: max "
        f"{max(per_user.values()) if per_user else 0}, people reached {len(per_user)}"
    )
    print(
        f"worker spread at SCHEDULER_INTERVAL_SECONDS={settings.scheduler_interval_seconds:g}: "
        f"≥{ticks * settings.scheduler_interval_seconds:.0f}s of ticks for the batch"
    )
    assert sent == args.people and max(per_user.values()) == 1


if __name__ == "__main__":
    main()
