"""`followthrough playbooks validate|load|list` through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _load_command_modules, app
from bot.playbooks.parse import SEED_DIR

GOOD = """key: churn_signal
name: Churn signal
summary: The customer mentioned evaluating a competitor.
steps:
  - id: call_champion
    summary: CSM calls the champion
    assignee: csm
    recipient: contact:champion
    delay: 0
    medium: call
    message: Talking points for {account.name}
  - id: tell_manager
    summary: CSM tells the CS manager
    assignee: csm
    recipient: internal:cs_manager
    delay: 1d
    medium: slack
    message: Heads-up on {account.name}
"""

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    if not any(getattr(g, "name", None) == "playbooks" for g in app.registered_groups):
        _load_command_modules()


def _folder(tmp_path: Path, text: str, name: str = "churn_signal.yaml") -> Path:
    folder = tmp_path / "pb"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    return hits[nth - 1]


def test_seed_playbooks_are_valid() -> None:
    result = runner.invoke(app, ["playbooks", "validate", str(SEED_DIR)])
    assert result.exit_code == 0, result.output
    assert "7 playbook(s) valid, 0 error(s)" in result.output


def test_missing_field_is_reported_at_its_step(tmp_path: Path) -> None:
    text = GOOD.replace("    medium: slack\n", "")
    result = runner.invoke(app, ["playbooks", "validate", str(_folder(tmp_path, text))])
    assert result.exit_code == 1
    line = _line_of(text, "- id: tell_manager")
    assert f"churn_signal.yaml:{line}:" in result.output
    assert "missing required field 'medium'" in result.output


def test_bad_delay_is_reported_at_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("delay: 1d", "delay: 2x")
    result = runner.invoke(app, ["playbooks", "validate", str(_folder(tmp_path, text))])
    assert result.exit_code == 1
    assert f"churn_signal.yaml:{_line_of(text, 'delay: 2x')}:" in result.output
    assert "delay '2x' is not a duration" in result.output


def test_order_gap_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("  - id: call_champion\n", "  - id: call_champion\n    order: 1\n")
    text = text.replace("  - id: tell_manager\n", "  - id: tell_manager\n    order: 3\n")
    result = runner.invoke(app, ["playbooks", "validate", str(_folder(tmp_path, text))])
    assert result.exit_code == 1
    assert f":{_line_of(text, 'order: 3')}:" in result.output and "gap" in result.output


def test_reference_loop_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    assignee: csm\n    recipient: contact:champion\n",
        "    assignee: csm\n    after: tell_manager\n    recipient: contact:champion\n",
    )
    result = runner.invoke(app, ["playbooks", "validate", str(_folder(tmp_path, text))])
    assert result.exit_code == 1
    assert f":{_line_of(text, 'after: tell_manager')}:" in result.output
    assert "loop" in result.output


def test_not_a_folder_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["playbooks", "validate", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_load_and_list(tmp_path: Path, database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    folder = _folder(tmp_path, GOOD)
    loaded = runner.invoke(app, ["playbooks", "load", str(folder), "--team", "T0CLI"])
    assert loaded.exit_code == 0, loaded.output
    assert "churn_signal: v1 created" in loaded.output
    again = runner.invoke(app, ["playbooks", "load", str(folder), "--team", "T0CLI"])
    assert "churn_signal: v1 unchanged" in again.output
    listed = runner.invoke(app, ["playbooks", "list", "--team", "T0CLI"])
    assert listed.exit_code == 0 and "churn_signal" in listed.output
    assert "budget_cut" not in listed.output  # the team has playbooks: no seeding on top
