"""The CLI: --help everywhere, the schema gate, imports, and `serve` and `worker` as real
processes. Commands whose result is their output and exit code run in-process through the
console script's `main(argv)` (`bot.devtools.cli_runner`); `python -m bot` itself is started
for real where the process is the point (its --help, serving, the worker loop)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import _load_command_modules, app
from bot.devtools.cli_runner import run_cli

runner = CliRunner()
_load_command_modules()


def _all_commands(typer_app, prefix=()):  # type: ignore[no-untyped-def]
    import typer.main

    group = typer.main.get_command(typer_app)
    stack = [(prefix, group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append(((*path, name), sub))


def test_every_command_has_help() -> None:
    paths = list(_all_commands(app))
    assert ("serve",) in paths and ("accounts", "import") in paths and ("tick",) in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_python_m_bot_is_the_same_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("serve", "socket", "worker", "tick", "migrate", "demo", "accounts"):
        assert cmd in out


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}, **extra)
    return env


@pytest.mark.parametrize("command", ["serve", "worker", "tick"])
def test_commands_refuse_an_unmigrated_database(tmp_path: Path, command: str) -> None:
    env = _env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    result = subprocess.run(
        [sys.executable, "-m", "bot", command],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "followthrough migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_without_tokens_names_the_missing_setting(tmp_path: Path) -> None:
    result = run_cli(
        ["serve"],
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SLACK_BOT_TOKEN is not set (see .env.example)"
    ]


def test_malformed_setting_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        ["migrate"],
        env=_env(tmp_path, LLM_ENGINE="gpt5"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LLM_ENGINE" in lines[0]


def test_migrate_then_import_accounts_reports_bad_rows(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
    csv = tmp_path / "accounts.csv"
    csv.write_bytes(b"name,domain\nAcme,acme.com\nBad,not a domain\n")
    result = run_cli(
        ["accounts", "import", str(csv), "--team", "T1"],
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "1 created, 0 updated, 1 skipped" in result.stdout
    assert "line 3: skipped" in result.stdout
    listed = run_cli(
        ["accounts", "list"],
        env=env,
        cwd=tmp_path,
    )
    assert "Acme" in listed.stdout


def test_serve_process_answers_signed_requests_and_healthz(tmp_path: Path) -> None:
    """`followthrough serve` as a real process, SLACK_API_URL pointed at the stand-in."""
    from bot.devtools.standin import SlackDriver, SlackStandin

    with SlackStandin() as standin:
        standin.add_team("T0TEST", "Vendor Inc")
        standin.add_user("T0TEST", "U0MAYA", "maya", "Maya Chen", "maya@vendor.io")
        standin.add_channel("T0TEST", "C0GEN", "general", ["U0MAYA"])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = _env(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-T0TEST",
            SLACK_SIGNING_SECRET="sekrit",
            SLACK_API_URL=standin.api_url,
            RUN_SCHEDULER="false",
            WEB_THREADS="3",
        )
        assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60  # a cold interpreter on a busy machine
            while True:  # another process: nothing to wait on but its port answering
                try:
                    health = httpx.get(f"{base}/healthz", timeout=5)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.2)
            assert health.status_code == 200 and health.json()["ok"] is True
            driver = SlackDriver(
                "sekrit",
                "T0TEST",
                standin,
                f"{base}/slack/events",
                user_id="U0MAYA",
                channel_id="C0GEN",
            )
            assert driver.app_mention("hi").status == 200
            mention = standin.messages("C0GEN")[-1]
            standin.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == mention["ts"])
            bad = driver.post(
                b"command=%2Fcommitments&text=",
                "application/x-www-form-urlencoded",
                signature="v0=bad",
            )
            assert bad.status == 401
            assert standin.calls("auth.test")  # start-up learned who we are
        finally:
            proc.terminate()
            out = proc.communicate(timeout=30)[0].decode()  # type: ignore[union-attr]
        # quiet at INFO: no Alembic narration, no Bolt notice about the ambient token
        assert "alembic" not in out and "will be unused" not in out and "Traceback" not in out
        assert "Workspace T0TEST · Vendor Inc" in out
        assert "(3 at once: WEB_THREADS)" in out


def _standin_env(standin, tmp_path: Path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    standin.add_team("T0TEST", "Vendor Inc")
    standin.add_user("T0TEST", "U0MAYA", "maya", "Maya Chen", "maya@vendor.io")
    standin.add_channel("T0TEST", "C0GEN", "general", ["U0MAYA"])
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-T0TEST",
        SLACK_SIGNING_SECRET="sekrit",
        SLACK_API_URL=standin.api_url,
        **extra,
    )
    assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
    return env


def _queue_sample_transcript(tmp_path: Path) -> None:
    from bot.db import engine_for, session_scope
    from bot.models import Transcript
    from bot.transcripts import sha256_hex

    data = (
        Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples" / "call-2026-11-20.vtt"
    ).read_bytes()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with session_scope(engine_for(url)) as s:
        s.add(
            Transcript(
                team_id="T0TEST",
                sha256=sha256_hex(data),
                filename="call-2026-11-20.vtt",
                size_bytes=len(data),
                content=data,
                channel_id="C0GEN",
                uploader_user_id="U0MAYA",
            )
        )
    engine_for(url).dispose()


def test_tick_runs_the_due_work_once_at_the_given_time(tmp_path: Path) -> None:
    from bot.devtools.standin import SlackStandin

    with SlackStandin() as standin:
        env = _standin_env(standin, tmp_path)
        _queue_sample_transcript(tmp_path)
        result = run_cli(
            ["tick", "--now", "2026-11-23T14:00:00+00:00"],
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert "capture: 1" in result.stdout
        review = [c for c in standin.calls("chat.postMessage") if c.args.get("channel") == "C0GEN"]
        assert review and "commitment" in review[-1].args["text"].lower()
        bad = run_cli(
            ["tick", "--now", "next tuesday"],
            env=env,
            cwd=tmp_path,
        )
        assert bad.returncode == 2 and "ISO-8601" in bad.stderr
        naive = run_cli(
            ["tick", "--now", "2026-11-23T14:00"],
            env=env,
            cwd=tmp_path,
        )
        assert naive.returncode == 0, naive.stderr
        assert "Due work as of 2026-11-23 14:00 UTC (no offset given, so UTC)" in naive.stdout
        ny = run_cli(
            ["tick", "--now", "2026-11-23T09:00-05:00"],
            env=env,
            cwd=tmp_path,
        )
        assert "Due work as of 2026-11-23 14:00 UTC\n" in ny.stdout


def test_migrate_says_one_line_and_nothing_else(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run = lambda: run_cli(["migrate"], env=env, cwd=tmp_path)  # noqa: E731
    first, again = run(), run()
    assert first.stdout.startswith("Database upgraded from empty to ") and first.stderr == ""
    assert again.stdout.startswith("Database is already at ") and again.stderr == ""


def test_worker_process_picks_up_queued_work(tmp_path: Path) -> None:
    from bot.devtools.standin import SlackStandin

    with SlackStandin() as standin:
        env = _standin_env(standin, tmp_path, SCHEDULER_INTERVAL_SECONDS="0.2")
        _queue_sample_transcript(tmp_path)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            standin.wait_for(
                "chat.postMessage",
                lambda c: (
                    c.args.get("channel") == "C0GEN"
                    and "commitment" in str(c.args.get("text")).lower()
                ),
                timeout=60,
            )
        finally:
            proc.terminate()
            out = proc.communicate(timeout=30)[0].decode()
        assert "xoxb-T0TEST" not in out  # tokens never reach the log
