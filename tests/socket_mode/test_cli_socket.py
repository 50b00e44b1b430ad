"""`followthrough socket` for real: a subprocess with only environment variables, reaching the
stand-in through SLACK_API_URL, answering an app_mention pushed down its WebSocket."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.standin import SlackStandin
from bot.devtools.standin.socket_driver import SocketModeDriver
from bot.slack.listeners.help import HELP

REPO = Path(__file__).resolve().parents[2]
APP_TOKEN = "xapp-1-A0FOLLOWTH-cli"
STARTUP_SECONDS = 60.0  # a cold interpreter on a busy machine; only a failure waits this long


def cli_env(standin: SlackStandin, database_url: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "OPENAI_", "DATABASE_", "LLM_"))
    }
    return {
        **keep,
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": "xoxb-T0TEST",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "DATABASE_URL": database_url,
        "RUN_SCHEDULER": "false",
        "LOG_LEVEL": "INFO",
    }


def wait_connected(standin: SlackStandin, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for the hello handshake, failing at once (with the log) if the process dies."""
    for _ in range(int(STARTUP_SECONDS / 0.2)):
        try:
            standin.socket_mode.wait_connects(1, timeout=0.2)
            return
        except TimeoutError:
            if proc.poll() is not None:
                pytest.fail(f"socket exited with {proc.returncode}:\n{log.read_text()}")
    pytest.fail(f"socket did not connect in {STARTUP_SECONDS:g}s:\n{log.read_text()}")


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        s.add_team("T0TEST", "Vendor Inc")
        s.add_user("T0TEST", "U0MAYA", "maya", "Maya Chen", "maya@vendor.io")
        s.add_channel("T0TEST", "C0CSRISK", "cs-risk", ["U0MAYA"])
        s.add_app_token("T0TEST", APP_TOKEN)
        yield s


def test_socket_command_connects_acks_and_replies(standin: SlackStandin, tmp_path: Path) -> None:
    env = cli_env(standin, f"sqlite:///{tmp_path}/x.db")
    migrated = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "socket.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "socket"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_connected(standin, proc, log)
        # the start-up check, then the handler's own connection
        checked, opened = standin.calls("apps.connections.open")
        assert checked.ok and opened.ok and opened.team_id == "T0TEST"
        driver = SocketModeDriver(
            "T0TEST", standin, user_id="U0MAYA", channel_id="C0CSRISK", ack_timeout=10
        )
        resp = driver.app_mention("hello")
        assert resp.status == 200, resp.problems
        mention = standin.messages("C0CSRISK")[-1]
        standin.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == mention["ts"])
        (post,) = standin.calls("chat.postMessage")
        assert post.ok and post.args["text"] == HELP
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert APP_TOKEN not in log.read_text() and "ticket=" not in log.read_text()
