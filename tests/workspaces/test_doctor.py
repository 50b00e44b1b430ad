"""`followthrough doctor` against the stand-in, through the console script's `main(argv)` in
this process (`bot.devtools.cli_runner`: the command's own environment, directory, logging
and exit code): a clean install passes, and each misconfiguration is reported in exactly one
✗ line that says what to do."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.db import engine_for
from bot.devtools.cli_runner import run_cli
from bot.devtools.standin import SlackStandin
from bot.devtools.world import TEAM
from bot.manifest import bot_scopes
from bot.migrate import upgrade

SAMPLES = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as s:
        yield s


def _workspace(standin: SlackStandin, scopes: list[str] | None = None) -> None:
    standin.add_team("T0TEST", "Vendor Inc", scopes=scopes or bot_scopes())
    for m in TEAM:
        standin.add_user("T0TEST", m.user_id, m.name, m.real_name, m.email)
    standin.add_channel("T0TEST", "C0CSRISK", "cs-risk", [m.user_id for m in TEAM])
    standin.add_channel("T0TEST", "C0NOBOT", "cs-private", ["U0MAYA"], bot_member=False)
    standin.add_app_token("T0TEST", "xapp-1-A0FOLLOWTH-ok")


def _doctor(
    tmp_path: Path, standin: SlackStandin, *args: str, migrate: bool = True, **env: str
) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_URL", "LOG_LEVEL", "OPENAI_", "LLM_", "CS_"))
    }
    base.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'ft.db'}",
        SLACK_API_URL=standin.api_url,
        SLACK_BOT_TOKEN="xoxb-T0TEST",
        SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        SLACK_APP_TOKEN="xapp-1-A0FOLLOWTH-ok",
        CS_CHANNEL="C0CSRISK",
    )
    if migrate:
        upgrade(base["DATABASE_URL"])
        engine_for(base["DATABASE_URL"]).dispose()
    base.update(env)
    return run_cli(["doctor", *args], env={k: v for k, v in base.items() if v != ""}, cwd=tmp_path)


def _problems(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("✗")]


def test_a_clean_install_passes(standin: SlackStandin, tmp_path: Path) -> None:
    _workspace(standin)
    result = _doctor(tmp_path, standin, "--people", str(SAMPLES / "people.csv"))
    assert result.returncode == 0, result.stdout
    assert _problems(result) == []
    for seen in (
        "✓ SLACK_BOT_TOKEN works: workspace T0TEST · Vendor Inc",
        f"✓ T0TEST · Vendor Inc: all {len(bot_scopes())} scopes the app needs are granted",
        "✓ T0TEST · Vendor Inc: CS_CHANNEL C0CSRISK exists and the bot is in it",
        "✓ people.csv: all 6 people are members of T0TEST · Vendor Inc",
        "✓ SLACK_APP_TOKEN works",
        "✓ Database schema is at",
        "Ready:",
    ):
        assert seen in result.stdout, result.stdout


def _people_with_stranger(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("email,role\nmaya@vendor.io,csm\nghost@vendor.io,csm\n")
    return path


Case = tuple[Callable[[SlackStandin], None], dict[str, str], list[str], str]
CASES: dict[str, Case] = {
    "missing scope": (
        lambda s: _workspace(s, [x for x in bot_scopes() if x != "users:read.email"]),
        {},
        [],
        "missing scope(s) users:read.email: add them under OAuth & Permissions",
    ),
    "token Slack rejects": (
        _workspace,
        {"SLACK_BOT_TOKEN": "xoxb-someone-else"},
        [],
        "Slack rejected SLACK_BOT_TOKEN (invalid_auth)",
    ),
    "token of the wrong kind": (
        _workspace,
        {"SLACK_BOT_TOKEN": "xoxp-1-2"},
        [],
        "SLACK_BOT_TOKEN is a user token (xoxp-…)",
    ),
    "no signing secret": (
        _workspace,
        {"SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": ""},
        [],
        "SLACK_SIGNING_SECRET is not set",
    ),
    "socket token shape": (
        _workspace,
        {"SLACK_APP_TOKEN": "bogus"},
        [],
        "SLACK_APP_TOKEN is not a Slack token",
    ),
    "socket token Slack rejects": (
        _workspace,
        {"SLACK_APP_TOKEN": "xapp-1-A0FOLLOWTH-revoked"},
        [],
        "Slack rejected SLACK_APP_TOKEN (invalid_auth)",
    ),
    "CS_CHANNEL that does not exist": (
        _workspace,
        {"CS_CHANNEL": "C0NOPE"},
        [],
        "CS_CHANNEL C0NOPE does not exist",
    ),
    "bot not in CS_CHANNEL": (
        _workspace,
        {"CS_CHANNEL": "C0NOBOT"},
        [],
        "the bot is not in CS_CHANNEL C0NOBOT: /invite the app there",
    ),
    "no Slack at all": (
        _workspace,
        {"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": ""},
        [],
        "Slack is not set up: set SLACK_BOT_TOKEN",
    ),
    "openai without a key": (
        _workspace,
        {"LLM_ENGINE": "openai"},
        [],
        "LLM_ENGINE=openai needs OPENAI_API_KEY",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_misconfiguration_is_one_line(
    standin: SlackStandin, tmp_path: Path, name: str
) -> None:
    setup, env, args, expected = CASES[name]
    setup(standin)
    result = _doctor(tmp_path, standin, *args, **env)
    assert result.returncode == 1
    [line] = _problems(result)
    assert expected in line, result.stdout


def test_schema_not_migrated(standin: SlackStandin, tmp_path: Path) -> None:
    _workspace(standin)
    result = _doctor(tmp_path, standin, migrate=False)
    [line] = _problems(result)
    assert "Run `followthrough migrate` first" in line


def test_a_roster_member_missing_from_slack(standin: SlackStandin, tmp_path: Path) -> None:
    _workspace(standin)
    result = _doctor(tmp_path, standin, "--people", str(_people_with_stranger(tmp_path)))
    [line] = _problems(result)
    assert "people.csv line 3: nobody in T0TEST · Vendor Inc has the email ghost@vendor.io" in line


def test_data_imported_under_another_team(standin: SlackStandin, tmp_path: Path) -> None:
    _workspace(standin)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    base["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ft.db'}"
    for args in (
        ["migrate"],
        ["accounts", "import", str(SAMPLES / "accounts.csv"), "--team", "T0OLD"],
    ):
        done = run_cli(args, env=base, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    result = _doctor(tmp_path, standin, migrate=False)
    [line] = _problems(result)
    assert "Workspace T0OLD in this database holds 5 account(s)" in line
    assert "SLACK_BOT_TOKEN belongs to T0TEST" in line


def test_with_oauth_every_installed_workspace_is_checked(database_url: str, tmp_path: Path) -> None:
    from bot.db import session_scope
    from bot.devtools.installs import CLIENT_ID, CLIENT_SECRET, Installs
    from bot.workspaces.service import set_cs_channel
    from tests.workspaces.conftest import ACME, GLOBEX

    if not database_url.startswith("sqlite"):
        pytest.skip("the command reads the same database; one backend is enough here")
    with Installs(database_url) as inst:
        for team_id, name, people, channel in (ACME, GLOBEX):
            inst.add_workspace(team_id, name, people, channel)
            inst.install(team_id, people[0][0])
            with session_scope(inst.rt.engine) as s:
                set_cs_channel(s, team_id, channel if team_id == "T0ACME" else "C0NOPE")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DATABASE_URL", "CS_", "LLM_", "OPENAI_"))
        }
        env.update(
            DATABASE_URL=database_url,
            SLACK_API_URL=inst.standin.api_url,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        )
        result = run_cli(["doctor"], env=env, cwd=tmp_path)
    out = result.stdout
    assert "✓ Workspace T0ACME · Acme CS: installed, its bot token works" in out
    assert "✓ Workspace T0GLOBEX · Globex CS: installed, its bot token works" in out
    assert "✓ T0ACME · Acme CS: CS_CHANNEL C0ACMECS exists and the bot is in it" in out
    [line] = _problems(result)
    assert "T0GLOBEX · Globex CS: CS_CHANNEL C0NOPE does not exist" in line
    assert result.returncode == 1
