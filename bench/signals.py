"""Speed of the signals API and of rule evaluation.

1. `POST /signals` sustained at a fixed rate (default 500 requests/s for 10 s, open loop:
   request i is due at t0 + i/rate) against the real app under waitress, while a worker
   thread evaluates the rules every 200 ms; ack latency p50/p99 — and the same load against
   a floor in the same run: a bare WSGI app under waitress that only verifies the Standard
   Webhooks signature and answers 202.
2. 100,000 stored (evaluated) signals: one evaluation tick with nothing new, and the whole
   signals DUE_JOBS tick (rules folder check, built-in cursors, evaluation, DMs).

Usage: python bench/signals.py [--rate 500] [--seconds 10] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402
from waitress import create_server  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.db import engine_for, session_scope  # noqa: E402
from bot.devtools.webhook_senders import StandardWebhooksSender, new_secret, signal  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Account  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.signals import scheduled  # noqa: E402
from bot.signals.evaluate import evaluate_new  # noqa: E402
from bot.signals.inbound import make_route  # noqa: E402
from bot.signals.models import SignalEvent, SignalStatus  # noqa: E402
from bot.signals.ruleset import load_rules, rules_folder  # noqa: E402
from bot.workspaces.service import ensure_workspace  # noqa: E402

TEAM = "T0BENCH"
NOW = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)
ACCOUNTS = 1000


def floor_app(secret: str) -> Callable:
    hook = Webhook(secret)

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        try:
            hook.verify(body, headers, json_parse=False)
            status, data = "202 Accepted", b'{"ok": true}'
        except Exception:  # noqa: BLE001
            status, data = "401 Unauthorized", b'{"ok": false}'
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]

    return app


def serve(app: Callable) -> tuple[object, str]:
    server = create_server(app, host="127.0.0.1", port=0, threads=16, ident="bench")
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def load(url: str, secret: str, rate: int, seconds: float, clients: int = 24) -> dict[str, float]:
    """Open-loop load: request i is sent at t0 + i/rate (or as soon as a client is free)."""
    total = int(rate * seconds)
    bodies = [
        json.dumps(
            signal(
                f"acct{random.randrange(ACCOUNTS)}.example", "health_score", random.randint(5, 100)
            )
        ).encode()
        for _ in range(min(total, 5000))
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(total))
    t0 = time.perf_counter() + 0.2

    def worker() -> None:
        sender = StandardWebhooksSender(url, secret, httpx.Client(timeout=10))
        for i in counter:
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            ans = sender.post(None, raw=body)
            took = time.perf_counter() - start
            with lock:
                latencies.append(took)
                statuses[ans.status] = statuses.get(ans.status, 0) + 1
        sender.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "statuses": {str(k): v for k, v in statuses.items()},  # type: ignore[dict-item]
    }


def seed(engine: sa.Engine) -> None:
    with session_scope(engine) as s:
        ensure_workspace(s, TEAM, "Bench")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Account.__table__),  # type: ignore[attr-defined]
            [
                {
                    "team_id": TEAM,
                    "name": f"Account {i}",
                    "domain": f"acct{i}.example",
                    "csm_user_id": "U0CSM",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(ACCOUNTS)
            ],
        )


def history(engine: sa.Engine, n: int) -> None:
    table = SignalEvent.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "team_id": TEAM,
            "source": "bench",
            "idempotency_key": f"hist:{i}",
            "auth": "signed",
            "account_key": f"acct{i % ACCOUNTS}.example",
            "account_id": i % ACCOUNTS + 1,
            "signal_type": "health_score",
            "value": 80.0,
            "occurred_at": NOW - dt.timedelta(minutes=i % 40000),
            "received_at": NOW,
            "context": {},
            "status": SignalStatus.EVALUATED,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(sa.insert(table), rows[start : start + 10_000])


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.99) - 1]


def evaluate_only(url: str) -> None:
    """The worker process: evaluate every 200 ms until terminated."""
    engine = engine_for(url)
    while True:
        evaluate_new(engine, NOW)
        time.sleep(0.2)


def load_elsewhere(url: str, secret: str, rate: int, seconds: float) -> dict[str, float]:
    """Run the load generator in its own process: a sender is not in the server's process
    (and must not share its interpreter lock)."""
    out = subprocess.run(
        [sys.executable, __file__, "--load-only", url, secret, str(rate), str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--evaluate-only":
        evaluate_only(sys.argv[2])
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--load-only":
        print(json.dumps(load(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument(
        "--worker",
        choices=("thread", "process", "none"),
        default="thread",
        help="evaluate in this process (single-process install), in a separate "
        "worker process (Procfile), or not at all",
    )
    args = ap.parse_args()
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" notes
    pg = None
    if args.postgres:
        from bot.devtools.postgres import ThrowawayPostgres

        pg = ThrowawayPostgres().start()
        admin = sa.create_engine(pg.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE bench"))
        url = pg.url("bench")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade(url)
    engine = engine_for(url)
    seed(engine)
    secret = new_secret()
    settings = load_settings(database_url=url, signals_webhook_secret=secret)
    rt = Runtime(settings, engine)
    backend = "PostgreSQL" if pg else "SQLite"
    print(
        f"backend: {backend}; load {args.rate} req/s for {args.seconds:g} s, "
        "24 client threads in a separate process; "
        f"worker: {args.worker}"
    )

    floor_server, floor_url = serve(floor_app(secret))
    floor = load_elsewhere(floor_url, secret, args.rate, args.seconds)
    floor_server.close()  # type: ignore[attr-defined]

    stop = threading.Event()
    evaluated = [0]

    def evaluator() -> None:
        with session_scope(engine) as s:
            load_rules(s, TEAM, rules_folder(settings))
        while not stop.is_set():
            evaluated[0] += evaluate_new(engine, NOW)
            stop.wait(0.2)

    worker: threading.Thread | subprocess.Popen | None = None
    if args.worker == "thread":
        worker = threading.Thread(target=evaluator)
        worker.start()
    elif args.worker == "process":
        with session_scope(engine) as s:
            load_rules(s, TEAM, rules_folder(settings))
        worker = subprocess.Popen([sys.executable, __file__, "--evaluate-only", url])
    server, base = serve(make_route(rt))
    app = load_elsewhere(f"{base}/signals", secret, args.rate, args.seconds)
    server.close()  # type: ignore[attr-defined]
    stop.set()
    if isinstance(worker, threading.Thread):
        worker.join()
    elif worker is not None:
        worker.terminate()
        worker.wait()
    while n := evaluate_new(engine, NOW):
        evaluated[0] += n
    for name, r in (("floor (verify only)", floor), ("POST /signals + worker", app)):
        print(
            f"{name:24} {r['requests']} requests at {r['achieved_rps']:.0f}/s: "
            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms, "
            f"statuses {r['statuses']}"
        )
    print(f"worker evaluated {evaluated[0]} signals during and after the run")

    history(engine, args.history)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM signal_event")).scalar()
    median, p99 = timed(lambda: evaluate_new(engine, NOW), 200)
    print(
        f"{stored} stored signals; evaluation tick with nothing new: "
        f"median {median:.2f} ms, p99 {p99:.2f} ms"
    )

    def queued() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM outbound_message")).scalar() or 0)

    def whole_tick() -> None:
        for _, job in scheduled.DUE_JOBS:
            job(rt, None, NOW)  # type: ignore[arg-type]  # signals jobs only queue (outbox)

    whole_tick()  # the day's built-in scan runs once; time the ticks after it
    before = queued()
    median, p99 = timed(whole_tick, 100)
    assert queued() == before, "a tick with nothing new queued a message"
    print(
        f"whole signals tick (rules folder, built-in cursors, evaluation, snoozes), nothing new: "
        f"median {median:.2f} ms, p99 {p99:.2f} ms ({before} suggestion DMs from the load run "
        "are queued in the outbox)"
    )
    if pg is not None:
        engine.dispose()
        pg.stop()


if __name__ == "__main__":
    main()
