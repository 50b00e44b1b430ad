"""`followthrough extract FILE`: table and JSON output, clean errors with non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _load_command_modules, app

runner = CliRunner()
_load_command_modules()
CALL = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "samples" / "call-2026-11-20.vtt"


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository


def test_json_output_has_the_promised_fields() -> None:
    result = runner.invoke(app, ["extract", str(CALL), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) >= 5
    for row in rows:
        assert {
            "owner",
            "text",
            "due",
            "due_phrase",
            "category",
            "evidence",
            "confidence",
        } <= row.keys()
    sso = next(r for r in rows if "SSO" in r["text"])
    assert sso["owner"] == "Maya Chen" and sso["due"] == "2026-11-27"  # Friday after the call
    assert sso["evidence"] in CALL.read_text()


def test_call_date_option_moves_due_dates() -> None:
    result = runner.invoke(
        app, ["extract", str(CALL), "--format", "json", "--call-date", "2026-12-01"]
    )
    sso = next(r for r in json.loads(result.stdout) if "SSO" in r["text"])
    assert sso["due"] == "2026-12-04"


def test_table_output() -> None:
    result = runner.invoke(app, ["extract", str(CALL)])
    assert result.exit_code == 0 and "OWNER" in result.stdout and "Li Wei" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG"),
        (b"WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\n<v A>hi\n", "broken timestamps"),
    ],
)
def test_bad_files_exit_non_zero_with_one_clear_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "call.vtt"
    path.write_bytes(content)
    result = runner.invoke(app, ["extract", str(path)])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_missing_file_bad_date_and_bad_engine(tmp_path: Path) -> None:
    assert runner.invoke(app, ["extract", str(tmp_path / "nope.vtt")]).exit_code == 1
    bad_date = runner.invoke(app, ["extract", str(CALL), "--call-date", "20/11/2026"])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    assert runner.invoke(app, ["extract", str(CALL), "--engine", "gpt"]).exit_code == 2


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "photo.vtt"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "extract", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.strip()
