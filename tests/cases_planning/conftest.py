"""Fixtures: a migrated database with one workspace, its CS team and an account."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.db import session_scope
from bot.models import Account, Contact, Person, Role

TEAM = "T0PLAN"
PEOPLE = [
    ("U0MAYA", "Maya Chen", "maya@vendor.io", Role.CSM, "U0OMAR", False),
    ("U0OMAR", "Omar Haddad", "omar@vendor.io", Role.CS_MANAGER, None, False),
    ("U0LI", "Li Wei", "li@vendor.io", Role.ACCOUNT_EXECUTIVE, None, False),
    ("U0ANA", "Ana Souza", "ana@vendor.io", Role.CS_MANAGER, None, True),
    ("U0SAM", "Sam Patel", "sam@vendor.io", Role.OTHER, None, False),
    ("U0RITA", "Rita Gomez", "rita@vendor.io", Role.SUPPORT_LEAD, None, False),
]


def seed_people(engine: Engine, team_id: str = TEAM) -> None:
    with session_scope(engine) as s:
        for uid, name, email, role, manager, admin in PEOPLE:
            s.add(
                Person(
                    team_id=team_id,
                    slack_user_id=uid,
                    name=name.split()[0].lower(),
                    real_name=name,
                    email=email,
                    role=role,
                    manager_user_id=manager,
                    is_admin=admin,
                )
            )


def add_account(
    engine: Engine,
    name: str = "Acme Corp",
    *,
    team_id: str = TEAM,
    csm: str | None = "U0MAYA",
    ae: str | None = "U0LI",
    contacts: list[dict[str, Any]] | None = None,
    **more: Any,
) -> int:
    if contacts is None:
        contacts = [
            {
                "name": "Dana Ruiz",
                "email": "dana@acme.com",
                "title": "VP Operations",
                "role": "champion",
            },
            {"name": "Lee Park", "email": "lee@acme.com", "title": "CFO", "role": "economic_buyer"},
            {"name": "Kim Ito", "email": "kim@acme.com", "title": "IT admin", "role": "admin"},
        ]
    fields: dict[str, Any] = {
        "arr": 120_000,
        "tier": "Enterprise",
        "renewal_date": dt.date(2031, 3, 31),
    }
    fields.update(more)
    with session_scope(engine) as s:
        account = Account(team_id=team_id, name=name, csm_user_id=csm, ae_user_id=ae, **fields)
        s.add(account)
        s.flush()
        for c in contacts:
            s.add(Contact(team_id=team_id, account_id=account.id or 0, **c))
        return account.id or 0


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    seed_people(db_engine)
    return db_engine


@pytest.fixture
def acme(engine: Engine) -> int:
    return add_account(engine)


@pytest.fixture
def make_account(engine: Engine):  # type: ignore[no-untyped-def]
    """add_account bound to this test's database."""
    return lambda *args, **kwargs: add_account(engine, *args, **kwargs)
