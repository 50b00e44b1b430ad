"""Two workspaces installed through OAuth run cases side by side: every call to Slack is made
with the workspace's own token, to its own people and channels, about its own accounts —
even when both book an account under the same name."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot import clock
from bot.db import session_scope
from bot.models import Account, Case, CaseStep
from tests.workspaces.helpers import install_with_account, report_and_start

MON_10_NY = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
TEAMS = {
    "T0ACME": ("U0ANN", "ann@acme.io", "C0ACMECS"),
    "T0GLOBEX": ("U0BOB", "bob@globex.io", "C0GLOBEXCS"),
}


def _owner_team(standin, call) -> str | None:  # type: ignore[no-untyped-def]
    """Which workspace the channel or user a call addresses belongs to."""
    state = standin.state
    for key in ("channel", "users", "user", "user_id"):
        value = call.args.get(key)
        if not value:
            continue
        chan = state.channels.get(str(value))
        if chan is not None:
            return chan.team_id
        return state.find_user_team(str(value))
    return None


def test_cases_run_side_by_side_with_no_cross_talk(installs) -> None:
    clock.set_now(MON_10_NY)
    accounts = {
        team: install_with_account(installs, team, user, email, channel)
        for team, (user, email, channel) in TEAMS.items()
    }
    assert accounts["T0ACME"] != accounts["T0GLOBEX"]
    cases = {
        team: report_and_start(installs, team, user, ch) for team, (user, _, ch) in TEAMS.items()
    }

    installs.tick(MON_10_NY + dt.timedelta(minutes=1))
    for team, (user, _, _) in TEAMS.items():
        installs.standin.wait_for(
            "chat.postMessage",
            lambda c, team=team, user=user: (
                c.team_id == team
                and "Step 1" in str(c.args.get("text"))
                and installs.standin.state.channels[c.args["channel"]].im_user == user
            ),
        )

    with session_scope(installs.rt.engine) as s:
        for team, case in cases.items():
            row = s.get(Case, case.id)
            account = s.get(Account, row.account_id)
            assert row.team_id == team and account.team_id == team
            assert account.id == accounts[team]
            steps = s.exec(select(CaseStep).where(CaseStep.case_id == case.id)).all()
            assert {st.team_id for st in steps} == {team}
            assert any(st.status == "awaiting" for st in steps)

    # Every call was made with a token of the workspace whose channel or person it addressed.
    addressed = 0
    for call in installs.standin.calls():
        if call.method.startswith(("oauth.", "auth.")) or call.team_id is None:
            continue
        owner = _owner_team(installs.standin, call)
        if owner is not None:
            addressed += 1
            assert owner == call.team_id, (call.method, call.args, call.team_id)
    assert addressed >= 8


def test_the_account_picker_only_offers_the_workspaces_own_accounts(installs) -> None:
    install_with_account(installs, "T0ACME", "U0ANN", "ann@acme.io", "C0ACMECS")
    installs.install("T0GLOBEX", "U0BOB")
    acme = installs.driver("T0ACME", "U0ANN", "C0ACMECS").block_suggestion("account_select", "acm")
    globex = installs.driver("T0GLOBEX", "U0BOB", "C0GLOBEXCS").block_suggestion(
        "account_select", "acm"
    )
    assert [o["text"]["text"] for o in acme.json["options"]] == ["Acme Corp"]
    assert globex.json["options"] == []


def test_a_request_signed_for_one_workspace_cannot_reach_anothers_case(installs) -> None:
    clock.set_now(MON_10_NY)
    install_with_account(installs, "T0ACME", "U0ANN", "ann@acme.io", "C0ACMECS")
    install_with_account(installs, "T0GLOBEX", "U0BOB", "bob@globex.io", "C0GLOBEXCS")
    acme_case = report_and_start(installs, "T0ACME", "U0ANN", "C0ACMECS")
    bob = installs.driver("T0GLOBEX", "U0BOB", "C0GLOBEXCS")
    answer = bob.command("/case", str(acme_case.id))
    assert answer.status == 200
    assert installs.standin.answer(answer) == f"There is no case #{acme_case.id} in this workspace."
    with session_scope(installs.rt.engine) as s:
        assert s.get(Case, acme_case.id).status == "running"
