"""Shared steps of the multi-workspace tests: install, import, report a risk, start it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from bot.accounts.service import import_accounts
from bot.db import session_scope
from bot.devtools.installs import Installs
from bot.models import Account, Case
from bot.slack.directory import SlackDirectory
from bot.workspaces.service import set_cs_channel


def until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll a specific state (a row in this status) until it holds; fail loudly if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"state never reached: {check}"
        time.sleep(0.02)


def install_with_account(
    inst: Installs, team_id: str, user_id: str, email: str, channel: str
) -> int:
    """Install, import an account called "Acme Corp" (both workspaces have one), point case
    cards at the workspace's CS channel; returns the account id."""
    inst.install(team_id, user_id)
    csv = f"name,domain,csm_email\nAcme Corp,acme.com,{email}\n".encode()
    with session_scope(inst.rt.engine) as s:
        report = import_accounts(s, team_id, csv, SlackDirectory(inst.clients.client(team_id)))
        assert report.created == 1 and not report.warnings
        set_cs_channel(s, team_id, channel)
        account = s.exec(select(Account).where(Account.team_id == team_id)).one()
        return account.id or 0


def report_and_start(inst: Installs, team_id: str, user_id: str, channel: str) -> Case:
    """/report-risk Acme Corp → modal → submit → the card → Start plan; returns the case."""
    driver = inst.driver(team_id, user_id, channel)
    driver.command("/report-risk", "Acme Corp")
    inst.standin.wait_for("views.open", lambda c: c.team_id == team_id)
    [view] = inst.standin.open_views(user_id, team_id)
    account_id = view["blocks"][0]["element"]["initial_option"]["value"]
    driver.view_submission(
        view, {"account": account_id, "risk": "champion_left", "context": "Champion left."}
    )
    card = until(
        lambda: next(
            (m for m in inst.standin.messages(channel) if "Start plan" in str(m.get("blocks"))),
            None,
        )
    )
    driver.block_action("case_start", user_id=user_id, message=card | {"channel": channel})

    def running() -> Case | None:
        with session_scope(inst.rt.engine) as s:
            case = s.exec(select(Case).where(Case.team_id == team_id)).first()
            return case if case is not None and case.status == "running" else None

    return until(running)
