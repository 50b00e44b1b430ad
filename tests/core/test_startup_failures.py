"""Every misconfiguration and Slack failure at start-up is one line on stderr with the cause
and the fix, a non-zero exit, and no traceback (the trace only at LOG_LEVEL=DEBUG). Each runs
the real command against the local stand-in: through the console script's `main(argv)` in
this process (`bot.devtools.cli_runner`: its own environment, directory, logging and exit
code), or as a subprocess (`python -m bot …`) where a real interpreter is what is checked —
the trace at DEBUG, and no retrying when Slack is unreachable (the subprocess's timeout)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.cli_runner import run_cli
from bot.devtools.standin import SlackStandin
from bot.manifest import bot_scopes

SAMPLES = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_URL", "LOG_LEVEL", "OPENAI_", "LLM_"))
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'ft.db'}", RUN_SCHEDULER="false", **extra)
    return env


def _run(
    tmp_path: Path, *args: str, real: bool = False, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess:
    """The command's exit code and output: in-process through `main(argv)`, or with
    `real` as a subprocess (a real interpreter's traceback, a wall-clock bound)."""
    if not real:
        return run_cli(args, env=_env(tmp_path, **env), cwd=tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        timeout=timeout,
    )


def _one_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        s.add_team("T0TEST", "Vendor Inc", scopes=bot_scopes())
        s.add_user("T0TEST", "U0MAYA", "maya", "Maya Chen", "maya@vendor.io")
        s.add_channel("T0TEST", "C0CSRISK", "cs-risk", ["U0MAYA"])
        assert _run(tmp_path, "migrate").returncode == 0
        yield s


# -- a token of the wrong kind in each setting ----------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-1-2-3", "is a user token (xoxp-…)"),
        ("SLACK_BOT_TOKEN", "xapp-1-A1-2-abc", "is an app-level token (xapp-…)"),
        ("SLACK_BOT_TOKEN", "hunter2", "is not a Slack token"),
        ("SLACK_APP_TOKEN", "bogus", "is not a Slack token"),
        ("SLACK_APP_TOKEN", "xoxb-1-2", "is a bot token (xoxb-…)"),
        ("SLACK_SIGNING_SECRET", "xoxb-1-2", "looks like a token"),
        ("SLACK_CLIENT_SECRET", "xoxp-1", "looks like a token"),
        ("SLACK_CLIENT_ID", "my-app", "must look like 1234567890.1234567890"),
    ],
)
def test_a_token_of_the_wrong_kind_is_named_for_what_it_is(
    tmp_path: Path, setting: str, value: str, said: str
) -> None:
    result = _run(tmp_path, "serve", **{setting: value})
    assert result.returncode == 2
    line = _one_line(result, setting, said)
    assert value not in line  # secrets are never echoed


def test_bot_token_and_oauth_credentials_together_are_refused(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "worker",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_CLIENT_ID="1.2",
        SLACK_CLIENT_SECRET="abc",
    )
    _one_line(result, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set")


# -- auth.test failing ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "socket", "worker", "tick"])
def test_a_token_slack_rejects_stops_each_command_with_one_line(
    standin: SlackStandin, tmp_path: Path, command: str
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-not-known",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_APP_TOKEN": "xapp-1-A0FOLLOWTH-x",
        "SLACK_API_URL": standin.api_url,
    }
    result = _run(tmp_path, command, **env)
    _one_line(result, "Slack rejected SLACK_BOT_TOKEN (invalid_auth)", "OAuth & Permissions")


def test_a_revoked_token_says_reinstall(standin: SlackStandin, tmp_path: Path) -> None:
    standin.revoke_tokens("T0TEST")
    result = _run(tmp_path, "worker", SLACK_BOT_TOKEN="xoxb-T0TEST", SLACK_API_URL=standin.api_url)
    _one_line(result, "SLACK_BOT_TOKEN no longer works (token_revoked)", "reinstall the app")


def test_slack_down_is_one_line(standin: SlackStandin, tmp_path: Path) -> None:
    standin.fail("auth.test", status=503, times=None)
    result = _run(
        tmp_path,
        "serve",
        SLACK_BOT_TOKEN="xoxb-T0TEST",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=standin.api_url,
    )
    _one_line(result, "Slack answered HTTP 503 to auth.test", "try again in a minute")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "socket", "people"])
def test_unreachable_slack_is_one_line_without_retrying_for_half_a_minute(
    tmp_path: Path, command: str
) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    args = ("people", "import", str(SAMPLES / "people.csv")) if command == "people" else (command,)
    result = _run(
        tmp_path,
        *args,
        real=True,
        timeout=30,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        SLACK_APP_TOKEN="xapp-1-A-1",
        SLACK_API_URL=f"http://127.0.0.1:{_closed_port()}/api/",
    )
    _one_line(result, "Cannot reach Slack at http://127.0.0.1:", "SLACK_API_URL")


def test_the_full_trace_only_at_debug(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    result = _run(
        tmp_path,
        "worker",
        real=True,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_API_URL=f"http://127.0.0.1:{_closed_port()}/api/",
        LOG_LEVEL="DEBUG",
    )
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Cannot reach Slack")


def test_an_app_token_slack_rejects_is_one_line(standin: SlackStandin, tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "socket",
        SLACK_BOT_TOKEN="xoxb-T0TEST",
        SLACK_APP_TOKEN="xapp-1-A0FOLLOWTH-unknown",
        SLACK_API_URL=standin.api_url,
    )
    _one_line(result, "Slack rejected SLACK_APP_TOKEN (invalid_auth)", "App-Level Token")


# -- which workspace a command is about -----------------------------------------------------


def test_imports_take_the_workspace_from_the_token_and_refuse_another_team(
    standin: SlackStandin, tmp_path: Path
) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-T0TEST", "SLACK_API_URL": standin.api_url}
    ok = _run(tmp_path, "accounts", "import", str(SAMPLES / "accounts.csv"), **env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Workspace T0TEST:")
    wrong = _run(tmp_path, "accounts", "list", "--team", "T0OTHER", **env)
    _one_line(wrong, "--team T0OTHER is not the workspace of SLACK_BOT_TOKEN (T0TEST · Vendor Inc)")
    listed = _run(tmp_path, "accounts", "list", **env)
    assert "Acme Corp" in listed.stdout


def test_offline_team_is_checked(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    csv = str(SAMPLES / "accounts.csv")
    _one_line(_run(tmp_path, "accounts", "import", csv), "No workspace yet", "SLACK_BOT_TOKEN")
    _one_line(_run(tmp_path, "accounts", "import", csv, "--team", "acme"), "is not a Slack team id")
    first = _run(tmp_path, "accounts", "import", csv, "--team", "T0TEST")
    assert first.returncode == 0 and "taken on your word" in first.stderr
    assert "was not looked up (Slack is not connected" in first.stdout
    _one_line(
        _run(tmp_path, "accounts", "list", "--team", "T0TYPO"),
        "--team T0TYPO is not a workspace of this database (known: T0TEST)",
    )


def test_people_import_needs_slack(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    result = _run(tmp_path, "people", "import", str(SAMPLES / "people.csv"), "--team", "T0TEST")
    _one_line(result, "looks every person up in Slack", "SLACK_BOT_TOKEN", "nothing was changed")


def test_socket_mode_with_oauth_credentials_says_use_serve(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "socket",
        SLACK_CLIENT_ID="1111.2222",
        SLACK_CLIENT_SECRET="abc",
        SLACK_APP_TOKEN="xapp-1-A-1",
    )
    _one_line(result, "Socket Mode serves the one workspace of SLACK_BOT_TOKEN", "serve")


def test_workspaces_list_and_channel(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    csv = str(SAMPLES / "accounts.csv")
    assert _run(tmp_path, "accounts", "import", csv, "--team", "T0TEST").returncode == 0
    bad = _run(tmp_path, "workspaces", "channel", "#cs-risk")
    _one_line(bad, "is not a channel id like C0123ABCD")
    ok = _run(tmp_path, "workspaces", "channel", "C0CSRISK")
    assert ok.returncode == 0 and "case cards go to C0CSRISK" in ok.stdout
    listed = _run(tmp_path, "workspaces", "list")
    assert listed.returncode == 0
    assert "T0TEST" in listed.stdout and "active" in listed.stdout
    assert "5 account" in listed.stdout
