"""A workspace that uninstalls the app (or revokes its token) gets nothing more — while its
case is running — and loses nothing: its rows wait for export or purge; the other workspace
carries on; a reinstall picks the case up again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot import clock
from bot.db import session_scope
from bot.lifecycle.service import count_team, export_team
from bot.models import Case, CaseStep, Workspace
from bot.notify import DeliveryError
from bot.workspaces.installations import BOTS, INSTALLATIONS
from tests.workspaces.helpers import install_with_account, report_and_start, until

MON_10_NY = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


def _two_running_cases(installs) -> dict[str, Case]:  # type: ignore[no-untyped-def]
    clock.set_now(MON_10_NY)
    install_with_account(installs, "T0ACME", "U0ANN", "ann@acme.io", "C0ACMECS")
    install_with_account(installs, "T0GLOBEX", "U0BOB", "bob@globex.io", "C0GLOBEXCS")
    return {
        "T0ACME": report_and_start(installs, "T0ACME", "U0ANN", "C0ACMECS"),
        "T0GLOBEX": report_and_start(installs, "T0GLOBEX", "U0BOB", "C0GLOBEXCS"),
    }


def _workspace(installs, team_id: str) -> Workspace:  # type: ignore[no-untyped-def]
    with session_scope(installs.rt.engine) as s:
        return s.exec(select(Workspace).where(Workspace.team_id == team_id)).one()


def _gone(installs, team_id: str) -> Workspace:  # type: ignore[no-untyped-def]
    """The event listener runs after Slack got its 200: wait for the workspace to be off."""

    def off() -> Workspace | None:
        ws = _workspace(installs, team_id)
        return None if ws.active else ws

    return until(off)


def _tokens(installs, team_id: str) -> int:  # type: ignore[no-untyped-def]
    with installs.rt.engine.connect() as conn:
        return sum(
            conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.team_id == team_id)
            ).scalar_one()
            for t in (INSTALLATIONS, BOTS)
        )


def _steps(installs, case_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with session_scope(installs.rt.engine) as s:
        rows = s.exec(select(CaseStep).where(CaseStep.case_id == case_id)).all()
        return sorted((r.position, r.status) for r in rows)


@pytest.mark.parametrize("how", ["app_uninstalled", "tokens_revoked"])
def test_uninstall_while_a_case_runs_stops_everything_for_that_workspace_only(
    installs, tmp_path, how: str
) -> None:
    cases = _two_running_cases(installs)
    acme = installs.driver("T0ACME", "U0ANN", "C0ACMECS")
    steps_before = _steps(installs, cases["T0ACME"].id)
    resp = acme.app_uninstalled() if how == "app_uninstalled" else acme.tokens_revoked()
    assert resp.status == 200
    ws = _gone(installs, "T0ACME")
    assert ws.deactivated_reason == how
    until(lambda: _tokens(installs, "T0ACME") == 0)
    assert _tokens(installs, "T0ACME") == 0 and _tokens(installs, "T0GLOBEX") > 0

    installs.standin.reset_calls()
    installs.tick(MON_10_NY + dt.timedelta(minutes=1))
    installs.standin.wait_for(
        "chat.postMessage",
        lambda c: c.team_id == "T0GLOBEX" and "Step 1" in str(c.args),
    )
    assert [c for c in installs.standin.calls() if c.team_id == "T0ACME"] == []
    # nothing was marked failed or lost: the case waits exactly as it was
    assert _steps(installs, cases["T0ACME"].id) == steps_before
    with session_scope(installs.rt.engine) as s:
        assert s.get(Case, cases["T0ACME"].id).status == "running"
    with pytest.raises(DeliveryError) as refused:
        installs.notifier.dm("T0ACME", "U0ANN", "hello?")
    assert refused.value.code == "workspace_inactive" and not refused.value.retryable
    assert installs.standin.calls(team_id="T0ACME") == []

    counts = export_team(installs.rt.engine, "T0ACME", tmp_path / "acme")
    assert counts["case"] == 1 and counts["casestep"] == len(steps_before)
    assert counts["account"] == 1
    exported = (tmp_path / "acme" / "workspace.jsonl").read_text()
    assert json.loads(exported)["active"] is False
    assert "xoxb" not in "".join(p.read_text() for p in (tmp_path / "acme").iterdir())


def test_a_repeated_uninstall_event_changes_nothing(installs) -> None:
    _two_running_cases(installs)
    acme = installs.driver("T0ACME", "U0ANN", "C0ACMECS")
    acme.app_uninstalled()
    first = _gone(installs, "T0ACME").deactivated_at
    for repeat in (acme.app_uninstalled, acme.tokens_revoked):
        assert repeat().status == 200
    assert _workspace(installs, "T0ACME").deactivated_at == first


def test_user_token_revocations_leave_the_workspace_running(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    acme = installs.driver("T0ACME", "U0ANN", "C0ACMECS")
    acme.tokens_revoked(bot=[], oauth=["U0ANN"])
    acme.app_mention("still there?")  # handled after the revocation event, in order
    installs.standin.wait_for("chat.postMessage", lambda c: c.team_id == "T0ACME")
    assert _workspace(installs, "T0ACME").active and _tokens(installs, "T0ACME") > 0


def test_requests_after_uninstall_are_not_served(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    acme = installs.driver("T0ACME", "U0ANN", "C0ACMECS")
    acme.app_uninstalled()
    _gone(installs, "T0ACME")
    installs.standin.reset_calls()
    acme.command("/commitments", "")
    [note] = installs.standin.wait_for(
        "response_url", lambda c: "reinstall" in str(c.args.get("text"))
    )
    assert "reinstall" in note.args["text"]
    assert [c.method for c in installs.standin.calls()] == ["response_url"]


def test_a_reinstall_picks_the_case_up_again(installs) -> None:
    cases = _two_running_cases(installs)
    installs.driver("T0ACME", "U0ANN", "C0ACMECS").app_uninstalled()
    _gone(installs, "T0ACME")
    installs.standin.reset_calls()
    installs.tick(MON_10_NY + dt.timedelta(minutes=1))
    assert installs.standin.calls(team_id="T0ACME") == []
    installs.install("T0ACME", "U0ANN")
    assert _workspace(installs, "T0ACME").active
    installs.tick(MON_10_NY + dt.timedelta(minutes=2))
    installs.standin.wait_for(
        "chat.postMessage", lambda c: c.team_id == "T0ACME" and "Step 1" in str(c.args)
    )
    assert "awaiting" in {st for _, st in _steps(installs, cases["T0ACME"].id)}


def test_a_token_revoked_mid_run_stops_the_workspace_at_the_first_refusal(installs) -> None:
    cases = _two_running_cases(installs)
    installs.standin.revoke_tokens("T0ACME")  # revoked; the event has not arrived yet
    installs.tick(MON_10_NY + dt.timedelta(minutes=1))
    assert any(c.error == "token_revoked" for c in installs.standin.calls(team_id="T0ACME"))
    ws = _gone(installs, "T0ACME")  # the first refusal stopped the workspace
    assert ws.deactivated_reason == "token_revoked"
    installs.standin.reset_calls()
    installs.tick(MON_10_NY + dt.timedelta(hours=2))  # the refused work is due again by now
    assert installs.standin.calls(team_id="T0ACME") == []
    with session_scope(installs.rt.engine) as s:
        assert s.get(Case, cases["T0ACME"].id).status == "running"


def test_data_is_purged_after_the_retention_period(database_url: str) -> None:
    from bot.devtools.installs import Installs
    from tests.workspaces.conftest import ACME, GLOBEX

    with Installs(database_url, uninstalled_retention_days=30) as installs:
        for team_id, name, people, channel in (ACME, GLOBEX):
            installs.add_workspace(team_id, name, people, channel)
        _two_running_cases(installs)
        installs.driver("T0ACME", "U0ANN", "C0ACMECS").app_uninstalled()
        _gone(installs, "T0ACME")
        done = installs.tick(MON_10_NY + dt.timedelta(days=29))
        assert done["uninstalled_purge"] == 0 and count_team(installs.rt.engine, "T0ACME")["case"]
        done = installs.tick(MON_10_NY + dt.timedelta(days=31))
        assert done["uninstalled_purge"] == 1
        assert sum(count_team(installs.rt.engine, "T0ACME").values()) == 0
        assert count_team(installs.rt.engine, "T0GLOBEX")["case"] == 1
