"""Ack latency and throughput of the app against a bare Bolt floor, side by side in one run.

    python bench/ack.py [--cases 10000] [--levels 1,5,20,50] [--requests 500]

On a throwaway PostgreSQL seeded by `bot/devtools/bigdb.py` (10,000 running cases / 50,000 steps
and their history), three servers take turns on the same port settings, one at a time,
against the same local Slack stand-in (Web API in this process):

  app      `python -m bot serve` (waitress, the app's own Bolt mode) plus `python -m bot
           worker` — the install the Procfile describes;
  bolt     a bare Bolt app under the same waitress (as many threads: WEB_THREADS), Bolt's
           default mode (the listener runs on Bolt's pool; the request thread polls for
           `ack()` every 10 ms);
  bolt-pbr the same bare app with `process_before_response=True`.

The bare apps do the same Slack work as the app and nothing else (no database): for
`/report-risk` they ack and open the same modal (`views.open`, in the listener); for a Yes
on a step DM they ack, then post the delivery, update the DM and ask the question (three
Web API calls, after the ack: on Bolt's listener thread, or for pbr on a pool).

Each level `c` is a closed loop: `c` clients send signed requests back to back until
`--requests` (at least 10·c) are answered. The clients are a separate process (`--drive`): one
asyncio loop holding `c` kept-alive connections and sending requests built beforehand (the
stand-in minted their trigger ids and response_urls; each is signed as it leaves). The
driver was 50 threads inside the stand-in's process until stop 22; their share of the GIL
and of a core set the harness's ceiling below the servers' (bare Bolt's `views.open` p99 at
c=50 was 539–857 ms). The stand-in's trigger lifetime is raised to 60 s because the triggers
are minted before a level starts: whether an effect came within Slack's 3 s is read off the
measured times instead, and any that did not are counted. Printed per request and level:
p50/p99 of the HTTP answer (the ack), answered requests per second, and when the effect
reached Slack — the `views.open` of the modal after a command, the delivery's
`chat.postMessage` after a Yes — as p50/p99 after the request was sent, with the rate at which
the effects landed. A "null" server (waitress answering 200 at once) gives the harness's own
ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret-0123456789ab"
CS_CHANNEL = "C0BENCHCS"
SERVERS = ("null", "bolt", "bolt-pbr", "app")
FLOORS = ("bolt", "bolt-pbr")
TRIGGER_SECONDS = 3.0  # Slack voids a trigger id this long after sending it


# --- the bare Bolt floor (run as a subprocess: `ack.py --serve bolt|bolt-pbr|null`) ------------


def serve_floor(
    kind: str, port: int, modal_file: str, api_url: str, token: str, threads: int
) -> None:
    import logging

    from waitress import serve

    if kind == "null":

        def null_app(environ: dict, start_response: Callable) -> list[bytes]:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        serve(null_app, host="127.0.0.1", port=port, threads=threads, _quiet=True)
        return

    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N"

    modal = json.loads(Path(modal_file).read_text())
    pbr = kind == "bolt-pbr"
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=token, base_url=api_url),
        process_before_response=pbr,
    )
    after = ThreadPoolExecutor(max_workers=4)

    @app.command("/report-risk")
    def report(ack: Any, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=modal)

    def carry_out(client: WebClient, body: dict) -> None:
        step_id = body["actions"][0]["value"].split(":")[0]
        where = body["container"]
        client.chat_postMessage(
            channel=f"C0BOUT{int(step_id) % 200:03d}",
            text="Delivered: checking usage with the champion.",
            metadata={
                "event_type": "followthrough_outbox",
                "event_payload": {"key": f"step:{step_id}:delivery:1"},
            },
        )
        client.chat_update(
            channel=where["channel_id"],
            ts=where["message_ts"],
            text="Step done",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "✅ Yes — sent."}}],
        )
        client.chat_postMessage(channel=body["user"]["id"], text="Is the risk resolved?")

    @app.action("step_yes")
    def yes(ack: Any, body: dict, client: WebClient) -> None:
        ack()
        if pbr:
            after.submit(carry_out, client, body)
        else:
            carry_out(client, body)

    handler = SlackRequestHandler(app, path="/slack/events")

    def wsgi(environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"ok": true}']
        return handler(environ, start_response)

    serve(wsgi, host="127.0.0.1", port=port, threads=threads, _quiet=True)


# --- measurement ---------------------------------------------------------------------------------


@dataclass
class Sample:
    sent: float  # time.monotonic() just before the request
    seconds: float  # the HTTP answer (the ack)
    status: int
    key: str  # trigger id (command) or delivery key prefix (Yes)


@dataclass
class Level:
    server: str
    request: str
    c: int
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    effects: list[float] = field(default_factory=list)  # seconds after `sent`
    effects_wall: float = 0.0  # first request sent → last effect landed
    cpu: list[float] = field(default_factory=list)  # CPU seconds of each server process

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    @property
    def acks(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def rate(self) -> float:
        return len(self.samples) / self.wall if self.wall else 0.0

    @property
    def effect_rate(self) -> float:
        return len(self.effects) / self.effects_wall if self.effects_wall else 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), to show CPU spent per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # start-up poll, not a test
    raise RuntimeError(f"{url} did not come up")


def closed_loop(
    c: int, requests: list[tuple[bytes, str]], target: str
) -> tuple[list[Sample], float]:
    """`c` clients (the `--drive` process) send `requests` back to back until all are answered."""
    with tempfile.TemporaryDirectory(prefix="ft-ack-drive-") as d:
        spec, out = Path(d) / "spec.json", Path(d) / "out.json"
        spec.write_text(
            json.dumps(
                {
                    "target": target,
                    "c": c,
                    "requests": [[body.decode(), key] for body, key in requests],
                }
            )
        )
        subprocess.run([sys.executable, __file__, "--drive", str(spec)], check=True)
        result = json.loads(out.read_text())
    return [Sample(*row) for row in result["samples"]], result["wall"]


def drive(spec_file: str) -> None:
    """The clients: one asyncio loop, `c` kept-alive HTTP/1.1 connections, requests signed as
    they leave. Writes each request's send time (CLOCK_MONOTONIC, which the stand-in's
    clock shares), answer time and status next to the spec."""
    import asyncio
    from urllib.parse import urlsplit

    from bot.devtools.standin.signing import slack_headers

    spec = json.loads(Path(spec_file).read_text())
    where = urlsplit(spec["target"])
    host, port, path = where.hostname or "127.0.0.1", where.port or 80, where.path
    requests = [(body.encode(), key) for body, key in spec["requests"]]
    counter = iter(range(len(requests)))
    samples: list[list[Any]] = []

    async def answer(reader: asyncio.StreamReader) -> int:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await reader.readline()).strip() or b"0", 16):
                await reader.readexactly(size + 2)
            await reader.readline()
        else:
            await reader.readexactly(int(fields.get("content-length") or 0))
        return status

    async def client(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = conn
        while (i := next(counter, None)) is not None:
            body, key = requests[i]
            headers = slack_headers(SECRET, body, "application/x-www-form-urlencoded")
            head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers.items()
            )
            head += f"Content-Length: {len(body)}\r\n\r\n"
            sent = time.monotonic()
            writer.write(head.encode() + body)
            status = await answer(reader)
            samples.append([sent, time.monotonic() - sent, status, key])
        writer.close()

    async def main() -> float:
        conns = [await asyncio.open_connection(host, port) for _ in range(spec["c"])]
        start = time.monotonic()
        await asyncio.gather(*(client(conn) for conn in conns))
        return time.monotonic() - start

    wall = asyncio.run(main())
    (Path(spec_file).parent / "out.json").write_text(json.dumps({"samples": samples, "wall": wall}))


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--levels", default="1,5,20,50")
    parser.add_argument(
        "--requests",
        type=int,
        default=500,
        help="per level (at least 10·c; p99 is the 5th worst of 500)",
    )
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--only", default="/report-risk,Yes", help="which requests to send (comma-separated)"
    )
    parser.add_argument(
        "--profile",
        help="py-spy the app's web process into this file (raw; the worker into FILE.worker, "
        "a floor into FILE.<server>)",
    )
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples/s")
    parser.add_argument("--serve", choices=["null", *FLOORS], help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--modal", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        drive(args.drive)
        return 0
    if args.serve:
        serve_floor(args.serve, args.port, args.modal, args.api_url, args.token, args.threads)
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from sqlmodel import select

    from bot.cases import blocks as msgs
    from bot.cases import plan_blocks as cards
    from bot.cases import report_form
    from bot.config import load_settings
    from bot.db import engine_for, session_scope
    from bot.devtools import bigdb
    from bot.devtools.postgres import ThrowawayPostgres
    from bot.devtools.standin import SlackDriver, SlackStandin
    from bot.devtools.standin.driver import DriverResponse

    class Recorder(SlackDriver):
        """Builds the exact requests a `SlackDriver` would send, for `--drive` to send."""

        def post(self, body: bytes, content_type: str, **_: Any) -> DriverResponse:
            return DriverResponse(0, "", None, 0.0, request_body=body)

    from bot.migrate import upgrade
    from bot.models import CaseStep
    from bot.runtime import Runtime
    from bot.scheduler import run_due
    from bot.slack.client import make_client
    from bot.slack.outbound import SlackNotifier

    levels = [int(x) for x in args.levels.split(",")]
    servers = [s for s in args.servers.split(",") if s]
    per_level = {c: max(args.requests, 10 * c) for c in levels}
    clicks_needed = args.warmup + sum(per_level.values()) + 10
    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pg = ThrowawayPostgres().start()
    standin = SlackStandin(trigger_ttl=60.0).start()  # minted ahead: see the docstring
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="ft-ack-bench-"))
    try:
        admin = sa.create_engine(pg.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE ft_ack"))
        admin.dispose()
        url = pg.url("ft_ack")
        upgrade(url)
        t0 = time.perf_counter()
        counts = bigdb.seed(url, cases=args.cases, due=clicks_needed, assignees=500, now=real_now)
        print(
            f"seeded {counts['case']:,} running cases / {counts['casestep']:,} steps "
            f"(+ {counts['outbound_message']:,} sent messages, {counts['commitment']:,} "
            f"commitments, {counts['auditevent']:,} audit rows) in {time.perf_counter() - t0:.1f}s"
        )
        team = standin.add_team(bigdb.TEAM, "Bench Inc")
        people = bigdb.users(500)
        for u in people:
            standin.add_user(bigdb.TEAM, u, u, u, f"{u.lower()}@bench.io", tz=bigdb.TZ)
        standin.add_channel(bigdb.TEAM, CS_CHANNEL, "cs-risk", people[:50])
        for k in range(200):
            standin.add_channel(bigdb.TEAM, f"C0BOUT{k:03d}", f"bench-out-{k}", people[:5])
        with psycopg_conn(url) as conn:  # each step posts to one of 200 channels
            conn.execute(
                "UPDATE casestep SET recipient_ref = 'C0BOUT' || lpad((id % 200)::text, 3, '0')"
            )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": team.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
            "RUN_SCHEDULER": "false",
            "LOG_LEVEL": "WARNING",
            "DEFAULT_TIMEZONE": bigdb.TZ,
            "WORKDAYS": "mon,tue,wed,thu,fri,sat,sun",
            "WORKDAY_START_HOUR": "0",
            "WORKDAY_END_HOUR": "24",
        }
        settings = load_settings(
            database_url=url,
            slack_bot_token=team.bot_token,
            slack_signing_secret=SECRET,
            slack_api_url=standin.api_url,
            default_timezone=bigdb.TZ,
            workdays=env["WORKDAYS"],
            workday_start_hour=0,
            workday_end_hour=24,
            _env_file=None,
        )
        engine = engine_for(url)
        rt = Runtime(settings=settings, engine=engine)
        notifier = SlackNotifier(make_client(settings))
        t0 = time.perf_counter()
        for _ in range(50):  # the step DMs the Yes clicks answer, through the real engine
            run_due(rt, notifier, real_now)
            with session_scope(engine) as s:
                left = s.exec(
                    select(sa.func.count()).where(
                        CaseStep.status == "awaiting",  # type: ignore[arg-type]
                        CaseStep.dm_ts.is_(None),  # type: ignore[union-attr]
                        CaseStep.attempts > 0,  # type: ignore[arg-type]
                    )
                ).one()
                scheduled = s.exec(
                    select(sa.func.count()).where(
                        CaseStep.status == "scheduled",  # type: ignore[arg-type]
                        CaseStep.due_at <= real_now,  # type: ignore[operator,arg-type]
                    )
                ).one()
            if not left and not scheduled:
                break
        with session_scope(engine) as s:
            rows = s.exec(
                select(CaseStep.id, CaseStep.assignee_user_id, CaseStep.dm_channel, CaseStep.dm_ts)
                .where(
                    CaseStep.status == "awaiting",  # type: ignore[arg-type]
                    CaseStep.dm_ts.is_not(None),  # type: ignore[union-attr]
                )
                .order_by(CaseStep.id)  # type: ignore[arg-type]
            ).all()
        by_channel: dict[str, dict[str, dict]] = {}
        targets = []
        for step_id, user, channel, ts in rows:
            if channel not in by_channel:
                by_channel[channel] = {m["ts"]: m for m in standin.messages(channel)}
            targets.append((step_id, user, by_channel[channel][ts]))
        print(
            f"{len(targets):,} step DMs posted to the stand-in in {time.perf_counter() - t0:.1f}s"
        )
        assert len(targets) >= clicks_needed, (len(targets), clicks_needed)
        form = report_form.report_form(engine, bigdb.TEAM, "customer 4242")
        modal = cards.report_modal(form.risks, account=form.account, channel_id=CS_CHANNEL)
        modal_file = tmp / "modal.json"
        modal_file.write_text(json.dumps(modal))
        engine.dispose()

        recorder = Recorder(SECRET, bigdb.TEAM, standin, None, channel_id=CS_CHANNEL)
        results: list[Level] = []
        click_pool = iter(targets)
        floor_targets = targets  # the bare apps may answer the same DM again
        for server in servers:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            if server == "app":
                procs = [
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
                        + ["--port", str(port)],
                        env=env,
                        cwd=tmp,
                        stdout=subprocess.DEVNULL,
                    ),
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "worker"],
                        env={**env, "SCHEDULER_INTERVAL_SECONDS": "1"},
                        cwd=tmp,
                        stdout=subprocess.DEVNULL,
                    ),
                ]
            else:
                procs = [
                    subprocess.Popen(
                        [sys.executable, __file__, "--serve", server, "--port", str(port)]
                        + ["--modal", str(modal_file), "--api-url", standin.api_url]
                        + ["--token", team.bot_token, "--threads", str(settings.web_threads)],
                        cwd=tmp,
                    )
                ]
            wait_healthy(f"{base}/healthz", procs[0])
            if args.profile:
                watched = [(procs[0], "" if server == "app" else f".{server}")]
                if server == "app":
                    watched.append((procs[1], ".worker"))
                for proc, suffix in watched:
                    procs.append(
                        subprocess.Popen(
                            ["py-spy", "record", "--pid", str(proc.pid), "--format", "raw"]
                            + [
                                "--rate",
                                str(args.profile_rate),
                                "-o",
                                args.profile + suffix,
                                "--gil",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
            target = f"{base}/slack/events"

            def commands(n: int) -> list[tuple[bytes, str]]:
                built = []
                for i in range(n):
                    r = recorder.command(
                        "/report-risk", f"customer {4242 + i % 100}", user_id=people[i % 50]
                    )
                    built.append((r.request_body, r.trigger_id or ""))
                return built

            def take(n: int, server: str = server) -> list[tuple[int, str, dict]]:
                if server == "app":
                    return [next(click_pool) for _ in range(n)]
                return [floor_targets[i % len(floor_targets)] for i in range(n)]

            def clicks(n: int) -> list[tuple[bytes, str]]:
                built = []
                for step_id, user, message in take(n):
                    r = recorder.block_action(msgs.YES, message=message, user_id=user)
                    built.append((r.request_body, f"step:{step_id}:delivery:"))
                return built

            # warm-up: pools, caches, auth.test
            closed_loop(5, commands(args.warmup), target)
            closed_loop(5, clicks(args.warmup), target)
            settle(standin, time.monotonic() + 30)
            for c in levels:
                n = per_level[c]
                for request, build in (("/report-risk", commands), ("Yes", clicks)):
                    if request not in args.only.split(","):
                        continue
                    requests = build(n)
                    if server == "app":  # the last level's clicks, carried out before this one
                        drain(url, time.monotonic() + 300)
                        settle(standin, time.monotonic() + 30)
                    mark = len(standin.calls())
                    served = procs[:2] if server == "app" else procs[:1]  # not py-spy's
                    servers_cpu = [cpu_seconds(p.pid) for p in served]
                    with no_collections():
                        samples, wall = closed_loop(c, requests, target)
                    level = Level(server, request, c, samples, wall)
                    if server != "null":
                        effects_of(standin, level, mark, request)
                    level.cpu = [
                        cpu_seconds(p.pid) - b for p, b in zip(served, servers_cpu, strict=True)
                    ]
                    results.append(level)
                    bad = [s.status for s in samples if s.status != 200]
                    print(
                        f"  {server:8s} {request:12s} c={c:<3d} ack p50 "
                        f"{1000 * statistics.median(level.acks):6.1f} ms  p99 "
                        f"{1000 * level.pct(level.acks, 0.99):6.1f} ms  {level.rate:6.1f}/s"
                        + "  cpu ms/req "
                        + "+".join(f"{1000 * x / n:.1f}" for x in level.cpu)
                        + (f"  non-200: {len(bad)}" if bad else ""),
                        flush=True,
                    )
            for p in reversed(procs):
                p.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a server stuck on a kept connection
                    p.kill()
                    p.wait()
            procs = []
        report(results, levels)
        return 0
    finally:
        for p in procs:
            p.kill()
        standin.stop()
        pg.stop()


def psycopg_conn(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def settle(standin: Any, deadline: float) -> None:
    """Wait until the stand-in has been quiet for half a second (background work done)."""
    last = len(standin.calls())
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)  # observing a process from outside: nothing to wait on
        now = len(standin.calls())
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:
            return


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """No garbage collection in this process (the Slack stand-in's) while a level runs.

    Slack does not pause. The stand-in keeps every call and view it served, and its full
    collections stopped its server for 95–245 ms mid-level even with the start-up heap frozen
    (a `gc.callbacks` probe, beside a per-process CPU timeline: in those windows no process
    ran, and every in-flight request of whichever server was measured waited). At 500
    requests a level, one such pause was the p99. Collected between levels instead."""
    from bot.cli import settle_heap

    settle_heap()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def drain(url: str, deadline: float) -> None:
    """Wait until the app's worker has nothing left to do now: no click waiting in the inbox,
    no message due in the outbox. A level that began with the last level's clicks still
    being carried out would charge the app's acks with that work, which the floors never
    have (their effects are done when their level's are)."""
    with psycopg_conn(url) as conn:
        while time.monotonic() < deadline:
            (left,) = conn.execute(
                "SELECT (SELECT count(*) FROM inbound_action WHERE status = 'pending')"
                " + (SELECT count(*) FROM outbound_message"
                "    WHERE status IN ('pending', 'sending') AND due_at <= now())"
            ).fetchone()
            if not left:
                return
            time.sleep(0.1)  # observing another process's database: nothing to wait on
    print("  (the app's worker still had work queued when the level began)")


def effects_of(standin: Any, level: Level, mark: int, request: str, timeout: float = 60) -> None:
    """When each request's effect reached the stand-in (waits for the last one)."""
    want = {s.key: s.sent for s in level.samples}
    first = min(want.values())
    deadline = time.monotonic() + timeout
    found: dict[str, float] = {}
    while time.monotonic() < deadline:
        for call in standin.calls()[mark:]:
            if request == "/report-risk" and call.method == "views.open":
                key = str(call.args.get("trigger_id"))
            elif request == "Yes" and call.method == "chat.postMessage":
                meta = call.args.get("metadata")
                if isinstance(meta, str):
                    meta = json.loads(meta)
                key = str(((meta or {}).get("event_payload") or {}).get("key") or "")
                key = key.rsplit(":", 1)[0] + ":" if key.count(":") == 3 else ""
            else:
                continue
            if key in want and key not in found and call.ok:
                found[key] = call.time
        if len(found) >= len(want):
            break
        time.sleep(0.05)  # observing a process from outside: nothing to wait on
    level.effects = [found[k] - want[k] for k in found]
    level.effects_wall = (max(found.values()) - first) if found else 0.0
    late = sum(1 for e in level.effects if e > TRIGGER_SECONDS)
    if request == "/report-risk" and late:
        print(
            f"  ({late} of {len(want)} modals opened more than {TRIGGER_SECONDS:.0f} s after "
            "the command: Slack would have voided their triggers)"
        )
    missing = len(want) - len(found)
    if missing:
        print(f"  ({missing} of {len(want)} effects never reached Slack within {timeout:.0f} s)")
    settle(standin, time.monotonic() + 30)


def report(results: list[Level], levels: list[int]) -> None:
    def get(server: str, request: str, c: int) -> Level | None:
        return next(
            (r for r in results if (r.server, r.request, r.c) == (server, request, c)), None
        )

    def ms(x: float) -> str:
        return f"{1000 * x:7.1f}"

    print()
    print("ack = the HTTP answer to the request; effect = views.open (command) or the delivery")
    print("post (Yes) reaching Slack, after the request was sent. Milliseconds; rates per second.")
    head = (
        f"{'request':12s} {'c':>3s} | {'server':8s} {'ack p50':>7s} {'ack p99':>7s} "
        f"{'acks/s':>7s} | {'eff p50':>7s} {'eff p99':>7s} {'eff/s':>7s}"
    )
    print(head)
    print("-" * len(head))
    for request in ("/report-risk", "Yes"):
        for c in levels:
            for server in SERVERS:
                r = get(server, request, c)
                if r is None:
                    continue
                eff = (
                    f"{ms(statistics.median(r.effects))} {ms(r.pct(r.effects, 0.99))} "
                    f"{r.effect_rate:7.1f}"
                    if r.effects
                    else f"{'':7s} {'':7s} {'':7s}"
                )
                print(
                    f"{request:12s} {c:3d} | {server:8s} {ms(statistics.median(r.acks))} "
                    f"{ms(r.pct(r.acks, 0.99))} {r.rate:7.1f} | {eff}"
                )
            app = get("app", request, c)
            floors = [f for f in (get(s, request, c) for s in FLOORS) if f is not None]
            if app is not None and floors:
                best = min(floors, key=lambda f: f.pct(f.acks, 0.99))
                fastest = max(floors, key=lambda f: f.rate)
                print(
                    f"{'':12s} {'':3s} | app/floor: ack p99 "
                    f"{app.pct(app.acks, 0.99) / best.pct(best.acks, 0.99):.2f}× ({best.server}), "
                    f"acks/s {app.rate / fastest.rate:.2f}× ({fastest.server})"
                    + (
                        f", effects/s {app.effect_rate / max(f.effect_rate for f in floors):.2f}×"
                        if app.effects
                        else ""
                    )
                )
        print()


if __name__ == "__main__":
    raise SystemExit(main())
