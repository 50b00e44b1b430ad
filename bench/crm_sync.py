"""CRM sync speed against the HubSpot stand-in (run in its own process, so its memory and
CPU are not the sync's):

  * the first sync of N companies and 4N contacts: time, requests, and the syncing
    process's peak RSS (each size runs in a fresh process) — at two sizes, to show memory is
    flat in the number of records: records are streamed page by page and each page is its
    own transaction;
  * an incremental sync with 100 changes among the companies (target: under 2 s);
  * a sync with nothing changed: how many requests it makes, and a worker tick between
    syncs (requests: none).

    python bench/crm_sync.py                      # 50,000 companies / 200,000 contacts
    python bench/crm_sync.py --companies 5000     # a quick run
    python bench/crm_sync.py --postgres           # on a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEAM = "T0BENCH"


def _standin(pipe, companies: int, contacts: int) -> None:  # type: ignore[no-untyped-def]
    """Child process: a seeded HubSpot stand-in; answers 'change N' and 'stop'."""
    from bot.devtools.crm_standin import HubSpotStandin

    hs = HubSpotStandin()
    hs.add_property("companies", "arr", "number")
    hs.add_property("companies", "renewal_date", "date")
    hs.add_property("companies", "tier", "string")
    for i in range(20):
        hs.add_owner(str(80000 + i), f"csm{i}@vendor.io", "CSM", str(i))
    stamp = hs.now_ms() - 3_600_000
    ids = []
    for i in range(companies):
        ids.append(
            hs.create(
                "companies",
                {
                    "name": f"Company {i}",
                    "domain": f"company{i}.example",
                    "hubspot_owner_id": str(80000 + i % 20),
                    "arr": str(10_000 + i),
                    "renewal_date": "2027-06-30",
                    "tier": "Mid-market",
                },
                at_ms=stamp,
            )
        )
    roles = ["CHAMPION", "BUDGET_HOLDER", "END_USER", ""]
    for j in range(contacts):
        company = ids[j % companies]
        oid = hs.create(
            "contacts",
            {
                "firstname": "Person",
                "lastname": str(j),
                "email": f"p{j}@company{j % companies}.example",
                "hs_buying_role": roles[j % 4],
            },
            at_ms=stamp,
        )
        hs.associate("contacts", oid, "companies", company, {1, 279})
    hs.start()
    pipe.send(hs.url)
    while True:
        command = pipe.recv()
        if command == "stop":
            hs.stop()
            return
        if command.startswith("change"):
            n = int(command.split()[1])
            for k in range(n):
                hs.update("companies", ids[(k * 97) % companies], {"arr": str(99_000 + k)})
            pipe.send("ok")
        if command == "calls":
            pipe.send(list(hs.calls))
            hs.calls.clear()


def run(companies: int, contacts: int, database_url: str) -> dict[str, float]:
    from bot import clock
    from bot.config import load_settings
    from bot.crm import service, sync
    from bot.db import engine_for, session_scope
    from bot.migrate import upgrade
    from bot.workspaces.service import ensure_workspace

    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_standin, args=(child, companies, contacts))
    t = time.perf_counter()
    proc.start()
    url = parent.recv()
    seeded = time.perf_counter() - t
    upgrade(database_url)
    engine = engine_for(database_url)
    with session_scope(engine) as s:
        ensure_workspace(s, TEAM, "Bench")
    settings = load_settings(
        database_url=database_url,
        crm_vendor="hubspot",
        hubspot_api_url=url,
        hubspot_token="pat-standin",
    )
    out: dict[str, float] = {"seed_s": seeded}
    shown = {"at": time.perf_counter()}

    def progress(what: str, count: int) -> None:
        if time.perf_counter() - shown["at"] > 15:
            shown["at"] = time.perf_counter()
            print(f"    … {count:,} {what}", flush=True)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    report = sync.run_sync(engine, settings, TEAM, clock.now(), force=True, progress=progress)
    out["first_s"] = time.perf_counter() - t
    out["rss_before_mb"] = rss_before
    out["first_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert report is not None and report.error is None, report and report.lines()
    out["first_requests"] = report.requests
    out["companies"] = report.counts.get("companies", 0)
    out["contacts"] = report.counts.get("contacts", 0)

    parent.send("change 100")
    parent.recv()
    clock.set_now(clock.now() + dt.timedelta(minutes=1))  # past the search index lag
    t = time.perf_counter()
    report = sync.run_sync(engine, settings, TEAM, clock.now(), force=True)
    out["incremental_s"] = time.perf_counter() - t
    assert report is not None and report.error is None
    out["incremental_companies"] = report.counts.get("companies", 0)
    out["incremental_requests"] = report.requests

    clock.set_now(clock.now() + dt.timedelta(minutes=15))
    parent.send("calls")
    parent.recv()
    t = time.perf_counter()
    report = sync.run_sync(engine, settings, TEAM, clock.now(), force=True)
    out["nochange_s"] = time.perf_counter() - t
    parent.send("calls")
    out["nochange_requests"] = len(parent.recv())
    # between syncs the worker's tick only asks the database whether a sync is due
    clock.set_now(clock.now() + dt.timedelta(minutes=1))
    t = time.perf_counter()
    due = service.due_teams(engine, clock.now())
    out["idle_tick_ms"] = (time.perf_counter() - t) * 1000
    parent.send("calls")
    out["idle_tick_requests"] = len(parent.recv()) + len(due)
    parent.send("stop")
    proc.join(30)
    clock.set_now(None)
    return out


def _run_into(queue, n: int, m: int, url: str) -> None:  # type: ignore[no-untyped-def]
    queue.put(run(n, m, url))


def _fresh_process(n: int, m: int, url: str) -> dict[str, float]:
    """Each size in its own process, so peak RSS is that sync's alone."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_into, args=(queue, n, m, url))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--contacts-per-company", type=int, default=4)
    parser.add_argument(
        "--floor", type=int, default=5_000, help="smaller run for the flatness check"
    )
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sizes = sorted({args.floor, args.companies})
    pg = None
    if args.postgres:
        from sqlalchemy import create_engine, text

        from bot.devtools.postgres import ThrowawayPostgres

        pg = ThrowawayPostgres().start()
        admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            if pg is not None:
                with admin.connect() as conn:
                    conn.execute(text(f"CREATE DATABASE bench{n}"))
                url = pg.url(f"bench{n}")
            else:
                url = f"sqlite:///{Path(tmp) / f'bench{n}.db'}"
            m = n * args.contacts_per_company
            print(f"first sync of {n:,} companies / {m:,} contacts …", flush=True)
            results.append((n, m, _fresh_process(n, m, url)))
    if pg is not None:
        admin.dispose()
        pg.stop()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nHubSpot stand-in → {backend}")
    print(
        f"{'companies':>10} {'contacts':>9} {'first sync':>11} {'records/s':>10} {'RSS MB':>8} "
        f"{'requests':>8} {'incr (100)':>11} {'no-change':>10}"
    )
    for n, m, r in results:
        rate = (r["companies"] + r["contacts"]) / r["first_s"]
        print(
            f"{n:>10,} {m:>9,} {r['first_s']:>10.1f}s {rate:>10,.0f} {r['first_peak_mb']:>8.1f} "
            f"{int(r['first_requests']):>8,} {r['incremental_s']:>10.2f}s "
            f"{int(r['nochange_requests']):>4} req"
        )
    big = results[-1][2]
    print(
        f"\nincremental: {int(big['incremental_companies'])} companies re-read in "
        f"{big['incremental_s']:.2f} s ({int(big['incremental_requests'])} requests; target < 2 s)"
    )
    print(
        f"no-change sync: {int(big['nochange_requests'])} requests in "
        f"{big['nochange_s'] * 1000:.0f} ms;"
        f" worker tick between syncs: {int(big['idle_tick_requests'])} requests, "
        f"{big['idle_tick_ms']:.1f} ms"
    )
    if len(results) > 1:
        small, large = results[0][2]["first_peak_mb"], big["first_peak_mb"]
        print(
            f"peak RSS {small:.1f} MB at {results[0][0]:,} companies vs {large:.1f} MB at "
            f"{results[-1][0]:,} ({large / small:.2f}×, "
            f"for {results[-1][0] / results[0][0]:.0f}× the records)"
        )


if __name__ == "__main__":
    main()
