"""Extending a case with another playbook: who may, when, and what the new steps look like."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import audit
from bot.cases.extend import check_extend, extend_case, extension_choices
from bot.cases.records import CaseError
from bot.cases.report import ReportRequest, report_risk
from bot.config import Settings
from bot.db import session_scope
from bot.models import Case, CaseStatus, StepStatus

TEAM = "T0PLAN"  # as in conftest.py
TUE_10_NY = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)
SETTINGS = Settings.model_construct(
    cs_admins=["U0ANA"],
    workday_start_hour=9,
    workday_end_hour=18,
    default_timezone="America/New_York",
)


def _done_case(engine, account_id: int, risk: str = "budget_cut") -> int:
    """A case whose every step is done and whose owner was asked to close or extend it."""
    result = report_risk(
        engine, ReportRequest(TEAM, risk, "CFO cut software spend.", "U0SAM", account_id=account_id)
    )
    with session_scope(engine) as s:
        case = s.get(Case, result.case.id)
        case.status, case.current_step = CaseStatus.AWAITING_CLOSE, len(result.steps)
        for step in result.steps:
            step.status = StepStatus.DONE
            s.add(step)
        s.add(case)
    return result.case.id or 0


def test_who_may_extend_and_when(engine, acme) -> None:
    case_id = _done_case(engine, acme)
    with session_scope(engine) as s:
        case = s.get(Case, case_id)
        keys = [k for k, _ in extension_choices(s, case)]
        assert "budget_cut" not in keys and "usage_dip" in keys and len(keys) == 6
        for actor, key, why in (
            ("U0SAM", "usage_dip", "Only <@U0MAYA> or a CS admin"),
            ("U0LI", "usage_dip", "Only <@U0MAYA> or a CS admin"),
            ("U0MAYA", "budget_cut", "already ran that playbook"),
            ("U0MAYA", "no_such_key", "No active playbook"),
        ):
            with pytest.raises(CaseError, match=why):
                check_extend(s, TEAM, case_id, key, actor, SETTINGS)
        assert (
            check_extend(s, TEAM, case_id, "usage_dip", "U0ANA", SETTINGS)[1].key == "usage_dip"
        )  # a CS admin may


def test_extension_appends_steps_and_runs_them(engine, acme) -> None:
    case_id = _done_case(engine, acme)
    ext = extend_case(engine, TEAM, case_id, "usage_dip", "U0MAYA", TUE_10_NY, settings=SETTINGS)
    assert [s.position for s in ext.steps] == [7, 8, 9, 10, 11, 12]  # budget_cut has 6
    assert ext.first_due == TUE_10_NY and ext.outbox.team_id == TEAM
    with session_scope(engine) as s:
        case = s.get(Case, case_id)
        assert (case.status, case.total_steps, case.current_step) == ("running", 12, 7)
        assert case.gathered["extensions"][0]["from_position"] == 7
        assert [p["position"] for p in case.gathered["plan"]] == list(range(1, 13))
        assert "usage_dip" not in [k for k, _ in extension_choices(s, case)]
        assert [e.action for e in audit.history(s, TEAM, "case", case_id)][-1] == "extended"
    with pytest.raises(CaseError, match="is running"):
        extend_case(engine, TEAM, case_id, "renewal_window", "U0MAYA", TUE_10_NY, settings=SETTINGS)
