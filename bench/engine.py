"""Speed of the scheduled work at scale, on a throwaway PostgreSQL: does a tick grow with the
work or with the history?

    python bench/engine.py [--sizes 10000,100000] [--runs 30]

For each size, a fresh database is seeded by `bot/devtools/bigdb.py`: that many running
cases (5 steps each) and their history — 3 sent messages, 2 commitments, 2 audit rows and one
CRM write per case, a transcript per ten — with exactly 1,000 steps due at NOW. Then:

  1. a whole idle `run_due` (every DUE_JOB of `bot.scheduler`, nothing due: two hours before
     NOW), median and p90 of `--runs`, and each job's own median — the sizes interleaved run
     by run, so the machine's own load falls on all of them alike;
  2. queuing the 1,000 due step DMs (`queue_due_steps`, its claim FOR UPDATE SKIP LOCKED);
  3. sending them through the outbox to the local Slack stand-in (its per-channel rate limit
     on): DMs per second.

The last lines compare the sizes: an idle tick that reads history grows with it; one that
probes due indexes stays flat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bot.cases import engine as eng  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import engine_for, session_scope  # noqa: E402
from bot.devtools import bigdb  # noqa: E402
from bot.devtools.postgres import ThrowawayPostgres  # noqa: E402
from bot.devtools.standin import SlackStandin  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.outbox.scheduled import send_due  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.scheduler import due_jobs, run_due  # noqa: E402
from bot.slack.client import make_client  # noqa: E402
from bot.slack.outbound import SlackNotifier  # noqa: E402

NOW = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York
DUE = 1_000
ASSIGNEES = 500


class NoCalls:
    """A notifier for the idle tick: nothing is due, so nothing may reach Slack."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        raise AssertionError(f"nothing is due, yet a job called {name}")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def settings_for(url: str, api_url: str | None = None):  # type: ignore[no-untyped-def]
    return load_settings(
        database_url=url,
        slack_bot_token=f"xoxb-{bigdb.TEAM}",
        slack_signing_secret="x",
        transcript_retention_days=365,  # so the retention job runs its query
        default_timezone=bigdb.TZ,
        **({"slack_api_url": api_url} if api_url else {}),
        _env_file=None,
    )


def seed_size(pg: ThrowawayPostgres, admin: sa.Engine, cases: int) -> Runtime:
    name = f"ft_engine_{cases}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = pg.url(name)
    upgrade(url)
    t0 = time.perf_counter()
    counts = bigdb.seed(url, cases=cases, due=DUE, assignees=ASSIGNEES, now=NOW)
    print(
        f"{cases:,} running cases: seeded {counts['casestep']:,} steps, "
        f"{counts['outbound_message']:,} sent messages, {counts['commitment']:,} commitments, "
        f"{counts['auditevent']:,} audit rows, {counts['crm_write']:,} CRM writes, "
        f"{counts['transcript']:,} transcripts in {time.perf_counter() - t0:.1f}s"
    )
    return Runtime(settings=settings_for(url), engine=engine_for(url))


def idle_ticks(rts: dict[int, Runtime], runs: int) -> dict[int, dict[str, list[float]]]:
    """Idle ticks of every size, interleaved run by run, so that the machine's own ups and
    downs (other processes) fall on all sizes alike."""
    quiet = NOW - dt.timedelta(hours=2)
    out: dict[int, dict[str, list[float]]] = {n: {"idle": []} for n in rts}

    def whole(rt: Runtime) -> None:
        done = run_due(rt, NoCalls(), quiet)  # type: ignore[arg-type]
        assert all(n == 0 for n in done.values()), done

    for rt in rts.values():
        # warm: connections, caches, and a fresh install's first tick (it loads the signal
        # rules and runs the signals' once-a-day sweep); every tick after it is idle
        run_due(rt, NoCalls(), quiet)  # type: ignore[arg-type]
    for _ in range(runs):
        for n, rt in rts.items():
            out[n]["idle"] += timed(lambda rt=rt: whole(rt), 1)  # type: ignore[misc]
    for job_name, job in due_jobs():
        for _ in range(runs):
            for n, rt in rts.items():
                run = lambda rt=rt, job=job: job(rt, NoCalls(), quiet)  # type: ignore[misc]  # noqa: E731
                out[n].setdefault(f"job:{job_name}", []).extend(timed(run, 1))
    return out


def due_work(rt: Runtime, cases: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    start = time.perf_counter()
    queued = 0
    while queued < DUE:
        with session_scope(rt.engine) as s:
            n = eng.queue_due_steps(s, NOW, rt.settings)
        if n == 0:
            break
        queued += n
    figures["queue"] = (time.perf_counter() - start) * 1000
    assert queued == DUE, queued
    with SlackStandin(enforce_channel_rate=True) as standin:
        standin.add_team(bigdb.TEAM, "Bench")
        for u in bigdb.users(ASSIGNEES):
            standin.add_user(bigdb.TEAM, u, u, tz=bigdb.TZ)
        rt.settings = settings_for(str(rt.engine.url), standin.api_url)
        notifier = SlackNotifier(make_client(rt.settings))
        sends, start = 0, time.perf_counter()
        while sends < 200:
            now = NOW + dt.timedelta(seconds=time.perf_counter() - start)
            send_due(rt, notifier, now)
            sends += 1
            with session_scope(rt.engine) as s:
                left = s.execute(
                    sa.text(
                        "SELECT count(*) FROM casestep WHERE status = 'awaiting' "
                        "AND attempts > 0 AND dm_ts IS NULL"
                    )
                ).scalar_one()
            if not left:
                break
        elapsed = time.perf_counter() - start
        limited = [c for c in standin.calls("chat.postMessage") if c.status == 429]
        dms = [c for c in standin.calls("chat.postMessage") if c.ok]
    figures["dms_per_s"] = len(dms) / elapsed
    print(
        f"{cases:>8,} cases: queued the {DUE:,} due step DMs (claims of {eng.DUE_BATCH}, FOR "
        f"UPDATE SKIP LOCKED) in {figures['queue']:.0f} ms; sent {len(dms):,} through the "
        f"outbox in {elapsed:.2f}s ({sends} sends): {figures['dms_per_s']:.0f} DMs/s; "
        f"429s from the per-channel limit: {len(limited)}"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    pg = ThrowawayPostgres().start()
    try:
        admin = sa.create_engine(pg.url(), isolation_level="AUTOCOMMIT")
        rts = {n: seed_size(pg, admin, n) for n in sizes}
        ticks = idle_ticks(rts, args.runs)
        print()
        names = [k for k in ticks[sizes[0]] if k.startswith("job:")]
        print(f"idle ticks, median of {args.runs} (p90), ms — sizes interleaved run by run")
        print(f"{'cases':>8s}  {'run_due':>14s}  " + "  ".join(k[4:] for k in names))
        for n in sizes:
            t = ticks[n]
            jobs = "  ".join(f"{statistics.median(t[k]):{len(k) - 4}.2f}" for k in names)
            whole = f"{statistics.median(t['idle']):6.1f} ({p90(t['idle']):5.1f})"
            print(f"{n:>8,}  {whole:>14s}  {jobs}")
        if len(sizes) > 1:
            small = statistics.median(ticks[sizes[0]]["idle"])
            large = statistics.median(ticks[sizes[-1]]["idle"])
            print(
                f"idle run_due at {sizes[-1]:,} / {sizes[0]:,} cases: {large / small:.2f}× "
                f"({small:.1f} → {large:.1f} ms)"
            )
        print()
        for n in sizes:
            due_work(rts[n], n)
        for rt in rts.values():
            rt.close()
            rt.engine.dispose()
        admin.dispose()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
