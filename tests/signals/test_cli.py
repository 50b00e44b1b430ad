"""`followthrough signal …` through the console script's `main(argv)` (in-process, with the
command's own environment and directory: `bot.devtools.cli_runner`): rules validate, source,
send, import, unmatched and map."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlmodel import select

from bot.db import engine_for, session_scope
from bot.devtools.cli_runner import run_cli
from bot.migrate import upgrade
from bot.models import Account
from bot.signals.evaluate import evaluate_new
from bot.signals.models import SignalAlias, SignalEvent, SignalSource
from bot.workspaces.service import ensure_workspace


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return run_cli(["signal", *args], env=env, cwd=tmp_path)


def test_signal_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    with session_scope(engine_for(url)) as s:
        ensure_workspace(s, "T1", "Team")
        s.add(Account(team_id="T1", name="Acme Corp", domain="acme.com"))
    assert "10 rule(s) valid, 0 error(s)" in run(tmp_path, "rules", "validate").stdout
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "x.yaml").write_text(
        "key: x\nname: Xx x\nsignal: a\nwhen:\n  belwo: 1\nrisk: usage_dip\n"
    )
    out = run(tmp_path, "rules", "validate", str(bad))
    assert out.returncode == 1 and "x.yaml:5:3: unknown field 'belwo'" in out.stderr
    out = run(tmp_path, "source", "vitally", "--token")
    assert "POST https://<your host>/signals/vitally" in out.stdout and "whsec_" in out.stdout
    assert "?token=" in out.stdout
    out = run(tmp_path, "send", "--account", "acme.com", "--type", "health_score", "--value", "33")
    assert "Stored 1 signal(s)" in out.stdout, out.stderr
    csv = tmp_path / "signals.csv"
    csv.write_text(
        "account,type,value,reason\nacme.com,health_score,31,dip\nzd-org-9,support_ticket_unanswered,1,\n,health_score,3,\n"
    )
    out = run(tmp_path, "import", str(csv))
    assert out.returncode == 1 and "row 3" in out.stderr and "Stored 2 signal(s)" in out.stdout
    with session_scope(engine_for(url)) as s:
        rows = s.exec(select(SignalEvent)).all()
        assert len(rows) == 3 and {r.auth for r in rows} == {"cli", "import"}
        assert s.exec(select(SignalSource)).one().url_token
    while evaluate_new(engine_for(url), budget=0):  # what the worker does
        pass
    assert "zd-org-9\t1 signal(s)" in run(tmp_path, "unmatched").stdout
    out = run(tmp_path, "map", "zd-org-9", "acme.com")
    assert "'zd-org-9' is Acme Corp; 1 waiting signal(s)" in out.stdout
    with session_scope(engine_for(url)) as s:
        assert s.exec(select(SignalAlias)).one().account_key == "zd-org-9"
