"""App Home: what a person sees when they open the app — gathered here, built in
`home_blocks`, published by the Slack layer (`views.publish`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.crm.service import health as crm_health
from bot.db import session_scope
from bot.digest.service import local_now, open_items
from bot.home.blocks import CaseLine, home_view
from bot.models import OPEN_CASE_STATUSES, Account, Case, Person, Playbook
from bot.people.service import is_cs_admin

TEAM_CASES_MAX = 300


def _lines(session: Session, team_id: str, cases: list[Case]) -> list[CaseLine]:
    accounts = {
        a.id: a.name
        for a in session.exec(
            select(Account).where(
                Account.team_id == team_id,
                col(Account.id).in_({c.account_id for c in cases} or {-1}),
            )
        )
    }
    books = {
        p.id: p.name
        for p in session.exec(
            select(Playbook).where(
                Playbook.team_id == team_id,
                col(Playbook.id).in_({c.playbook_id for c in cases} or {-1}),
            )
        )
    }
    return [
        CaseLine(
            c.id or 0,
            accounts.get(c.account_id, "?"),
            books.get(c.playbook_id) or c.risk_key.replace("_", " "),
            c.status,
            c.current_step,
            c.total_steps,
            c.owner_user_id,
        )
        for c in cases
    ]


def build_home(
    session: Session, settings: Settings, team_id: str, user_id: str, now: dt.datetime
) -> dict:
    """The Home view for one person, as of `now` in their timezone."""
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()
    today = local_now(person, settings, now).date()
    items = open_items(session, team_id, user_id, today)
    open_cases = select(Case).where(
        Case.team_id == team_id, col(Case.status).in_(OPEN_CASE_STATUSES)
    )
    owned = list(
        session.exec(
            open_cases.where(Case.owner_user_id == user_id)
            .order_by(col(Case.opened_at).desc())
            .limit(50)
        )
    )
    team: dict[str, list[CaseLine]] | None = None
    crm = None
    if is_cs_admin(session, team_id, user_id, settings.cs_admins):
        crm = crm_health(session, team_id)
        team = {}
        rows = session.exec(open_cases.order_by(col(Case.opened_at).desc()).limit(TEAM_CASES_MAX))
        for line in _lines(session, team_id, list(rows)):
            team.setdefault(line.risk, []).append(line)
    return home_view(items, _lines(session, team_id, owned), team, today, crm=crm)


def home_for(
    engine: Engine, settings: Settings, team_id: str, user_id: str, now: dt.datetime
) -> dict:
    """`build_home` in its own transaction (the Slack layer publishes it)."""
    with session_scope(engine) as session:
        return build_home(session, settings, team_id, user_id, now)
