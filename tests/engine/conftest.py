"""A small factory for cases and steps, written straight to the models (no planner needed)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import session_scope
from bot.models import Account, Case, CaseStatus, CaseStep, Person, Playbook, StepStatus

TEAM = "T0TEST"
MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York

DEFAULT_STEPS: list[dict[str, Any]] = [
    {
        "summary": "Ask the champion what changed",
        "medium": "slack",
        "recipient_ref": "C0CSRISK",
        "recipient_label": "#cs-risk",
        "delay_seconds": 0,
        "draft": "Hi team, Acme's usage dropped 40% — anyone heard why?",
    },
    {
        "summary": "Email the economic buyer",
        "medium": "email",
        "recipient_ref": "lee@acme.com",
        "recipient_label": "Lee Park (economic buyer)",
        "delay_seconds": 86400,
        "draft": "Subject: Checking in\n\nHi Lee, could we meet this week?",
    },
    {
        "summary": "Call the champion",
        "medium": "call",
        "recipient_ref": "dana@acme.com",
        "recipient_label": "Dana Ruiz (champion)",
        "delay_seconds": 86400,
        "draft": "Talking points: usage, roadmap, renewal.",
    },
    {
        "summary": "Loop in the AE",
        "medium": "slack",
        "recipient_ref": "U0LI",
        "recipient_label": "Li Wei",
        "delay_seconds": 3600,
        "draft": "Li, Acme is at risk; can you join Thursday's call?",
    },
]


def make_case(
    engine: Engine,
    *,
    team_id: str = TEAM,
    owner: str = "U0MAYA",
    assignee: str | None = "U0MAYA",
    steps: list[dict[str, Any]] | None = None,
    status: str = CaseStatus.PLANNED,
    account_name: str = "Acme Corp",
    people: bool = True,
) -> int:
    """A planned case with steps 1..n; returns its id."""
    with session_scope(engine) as s:
        if people:
            for uid, tz, manager in (
                ("U0MAYA", "America/New_York", "U0OMAR"),
                ("U0OMAR", "America/New_York", None),
                ("U0LI", "America/Los_Angeles", None),
            ):
                known = s.exec(
                    select(Person).where(Person.team_id == team_id, Person.slack_user_id == uid)
                ).first()
                if known is None:
                    s.add(
                        Person(
                            team_id=team_id,
                            slack_user_id=uid,
                            name=uid,
                            tz=tz,
                            manager_user_id=manager,
                            email=f"{uid.lower()}@vendor.io",
                        )
                    )
        account = Account(team_id=team_id, name=account_name, domain=None)
        playbook = Playbook(
            team_id=team_id,
            key=f"usage_drop_{account_name}",
            name="Usage drop",
            summary="Usage fell sharply",
        )
        s.add(account)
        s.add(playbook)
        s.flush()
        case = Case(
            team_id=team_id,
            account_id=account.id or 0,
            risk_key="usage_drop",
            playbook_id=playbook.id or 0,
            reporter_user_id=owner,
            owner_user_id=owner,
            context="Weekly active users fell 40% after their reorg.",
            status=status,
        )
        s.add(case)
        s.flush()
        for i, spec in enumerate(steps if steps is not None else DEFAULT_STEPS, start=1):
            row = {"assignee_role": "csm", "assignee_user_id": assignee, **spec}
            s.add(
                CaseStep(
                    team_id=team_id,
                    case_id=case.id or 0,
                    position=i,
                    status=StepStatus.PLANNED,
                    **row,
                )
            )
        case.total_steps = len(steps if steps is not None else DEFAULT_STEPS)
        return case.id or 0


@pytest.fixture
def kit() -> SimpleNamespace:
    """What the tests share (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        make_case=make_case, TEAM=TEAM, MON_9AM_NY=MON_9AM_NY, DEFAULT_STEPS=DEFAULT_STEPS
    )
