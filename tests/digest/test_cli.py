"""`followthrough report`, `export` and `purge` from the command line."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from bot.cli import _load_command_modules, app


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    _load_command_modules()
    return CliRunner()


def test_report_empty_period_and_csv(cli, rows, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.db import session_scope
    from bot.workspaces.service import ensure_workspace

    with session_scope(rows.rt.engine) as s:
        ensure_workspace(s, "T0TEST")
    out = tmp_path / "cases.csv"
    r = cli.invoke(
        app, ["report", "--since", "2001-01-01", "--until", "2001-01-31", "--csv", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "Nothing in this period" in r.output
    assert out.read_text().startswith("risk,playbook,customer,playbook link")
    bad = cli.invoke(app, ["report", "--since", "2001-02-01", "--until", "2001-01-01"])
    assert bad.exit_code == 2


def test_export_and_purge(cli, rows, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows.commitment("U0MAYA", "x", dt.date(2026, 1, 1))
    r = cli.invoke(app, ["export", "--team", "T0TEST", "--out", str(tmp_path)])
    assert r.exit_code == 0 and (tmp_path / "T0TEST" / "commitment.jsonl").exists()
    refused = cli.invoke(app, ["purge", "--team", "T0TEST"])
    assert refused.exit_code == 1 and "--yes" in refused.output
    done = cli.invoke(app, ["purge", "--team", "T0TEST", "--yes"])
    assert done.exit_code == 0 and "Deleted 1 rows" in done.output
