"""The README's "Connect it to Slack" commands, read from README.md itself, so the test that
follows them (and `bench/first_modal.py`) cannot drift from what a new user reads."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Connect it to Slack"


COMMAND_LINE = re.compile(r"^\s+`(followthrough [^`]+)`\s*$", re.M)


def connect_commands(text: str | None = None) -> list[str]:
    """The commands to type, in order: each sits alone on a line of the section's steps
    (commands merely mentioned in a sentence are not steps)."""
    text = README.read_text() if text is None else text
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return COMMAND_LINE.findall(section)


# -- following the steps against the stand-in -----------------------------------------------

TEAM_ID = "T0VENDOR"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Followed:
    """What following the steps produced: each command's result, and the running server."""

    results: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    server: subprocess.Popen | None = None
    events_url: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argv(command: str, python: str) -> list[str]:
    """`followthrough …` as typed: the console script next to `python`, else `python -m bot`."""
    words = command.split()
    script = Path(python).with_name("followthrough")
    head = [str(script)] if script.exists() else [python, "-m", "bot"]
    return head + words[1:]


def follow_readme(
    clone: Path,
    standin: Any,
    *,
    python: str = sys.executable,
    on_step: Callable[[str, subprocess.CompletedProcess], None] | None = None,
) -> Followed:
    """Follow "Connect it to Slack" in `clone` (a checkout, or a folder with the samples at
    the path the README names) against `standin`, up to a running `serve`.

    Step 2 (create the app from the manifest, install it) is the stand-in workspace getting
    exactly the manifest's scopes; step 3 is `.env` written from `.env.example`. Everything
    else is the README's own commands, run as typed (only `serve`'s port is a free one).
    """
    import yaml

    from bot.devtools.world import CS_CHANNEL, TEAM

    commands = connect_commands((clone / "README.md").read_text())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_URL", "CS_", "OPENAI_", "LLM_", "LOG_LEVEL"))
    }
    out = Followed()
    for command in commands:
        verb = command.split()[1]
        if verb == "socket":
            continue  # the Socket Mode alternative to `serve`
        if verb == "serve":
            port = _free_port()
            argv = _argv(command.replace("--port 3000", f"--port {port}"), python)
            out.server = subprocess.Popen(
                argv,
                cwd=clone,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, out.server)
            out.events_url = f"{base}/slack/events"
            return out
        result = subprocess.run(
            _argv(command, python), cwd=clone, env=env, capture_output=True, text=True, timeout=120
        )
        out.results[command] = result
        if on_step is not None:
            on_step(command, result)
        if result.returncode != 0:
            raise AssertionError(f"`{command}` failed ({result.returncode}):\n{result.stderr}")
        if command.startswith("followthrough manifest --url"):
            # step 2: the app is created from this manifest and installed in the workspace
            out.manifest = yaml.safe_load(result.stdout)
            standin.add_team(
                TEAM_ID, "Vendor Inc", scopes=out.manifest["oauth_config"]["scopes"]["bot"]
            )
            for m in TEAM:
                standin.add_user(TEAM_ID, m.user_id, m.name, m.real_name, m.email, tz=m.tz)
            standin.add_channel(TEAM_ID, CS_CHANNEL, "cs-risk", [m.user_id for m in TEAM])
            # step 3: .env from .env.example
            filled = {
                "SLACK_BOT_TOKEN": standin.token_of(TEAM_ID),
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "CS_CHANNEL": CS_CHANNEL,
                "SLACK_API_URL": standin.api_url,  # the stand-in plays slack.com
            }
            lines = []
            for line in (clone / ".env.example").read_text().splitlines():
                name = line.split("=", 1)[0]
                lines.append(f"{name}={filled[name]}" if name in filled else line)
            (clone / ".env").write_text("\n".join(lines) + "\n")
    raise AssertionError("the README never reaches `followthrough serve`")


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise AssertionError(
                f"serve exited: {proc.stdout.read().decode() if proc.stdout else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError("serve did not answer /healthz")
        time.sleep(0.1)


def copy_for_test(repo: Path, target: Path) -> Path:
    """The files a fresh clone has that the steps read: README, .env.example, samples."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("README.md", ".env.example"):
        shutil.copy(repo / name, target / name)
    shutil.copytree(repo / "bot" / "devtools" / "samples", target / "bot" / "devtools" / "samples")
    return target
