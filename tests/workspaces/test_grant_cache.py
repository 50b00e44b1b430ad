"""A workspace's token is read once per GRANT_SECONDS, not on every request or send — and an
uninstall or a new token recorded by this process is obeyed at once, one recorded by another
process (a direct change of the rows here) within GRANT_SECONDS."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.models import Workspace
from bot.slack.client import GRANT_SECONDS, WorkspaceInactive
from bot.workspaces.service import deactivate


def _reads(installs):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    @event.listens_for(installs.rt.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *rest) -> None:  # type: ignore[no-untyped-def]
        if "workspace" in statement.lower() or "slack_installations" in statement.lower():
            seen.append(statement)

    return seen


def test_a_grant_is_read_once_then_held(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    clients = installs.clients
    token = clients.grant("T0ACME").token
    reads = _reads(installs)
    for _ in range(5):
        assert clients.grant("T0ACME").token == token
    assert reads == []


def test_an_uninstall_here_is_obeyed_at_once(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    clients = installs.clients
    clients.grant("T0ACME")
    assert deactivate(installs.rt.engine, "T0ACME", "app_uninstalled")
    with pytest.raises(WorkspaceInactive):
        clients.grant("T0ACME")


def test_a_change_by_another_process_is_seen_within_grant_seconds(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    clients = installs.clients
    now = [1000.0]
    clients.monotonic = lambda: now[0]
    clients.grant("T0ACME")
    with installs.rt.engine.begin() as conn:  # another process marks it uninstalled
        conn.execute(
            sa.update(Workspace).where(Workspace.team_id == "T0ACME").values(active=False)  # type: ignore[arg-type]
        )
    now[0] += GRANT_SECONDS / 2
    clients.grant("T0ACME")  # still held
    now[0] += GRANT_SECONDS
    with pytest.raises(WorkspaceInactive):
        clients.grant("T0ACME")
