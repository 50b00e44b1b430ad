"""Slack users, cached: a profile is fetched once (users.info) and refreshed when a week old.

Domain code asks this module, never Slack; the Slack layer hands in a `Directory` that knows
how to fetch a profile, so tests and the CLI can use the same logic.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from bot import clock
from bot.models import Person

log = logging.getLogger(__name__)
REFRESH_AFTER = dt.timedelta(days=7)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Directory(Protocol):
    """Where profiles come from (Slack's users.info / users.lookupByEmail)."""

    def user(self, user_id: str) -> dict | None: ...

    def user_by_email(self, email: str) -> dict | None: ...


def _apply_profile(person: Person, user: dict) -> None:
    profile = user.get("profile") or {}
    person.name = (
        profile.get("display_name")
        or profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
        or person.slack_user_id
    )
    person.real_name = profile.get("real_name") or user.get("real_name") or person.name
    person.email = profile.get("email") or person.email or None
    tz = user.get("tz") or person.tz
    if tz != person.tz:
        person.next_digest_at = None  # their digest hour moved: the digest job looks again
    person.tz = tz
    person.deactivated = bool(user.get("deleted"))
    person.fetched_at = clock.now()


def get_person(
    session: Session, team_id: str, user_id: str, directory: Directory | None = None
) -> Person:
    """The cached person; fetched from the directory on first sight or when stale."""
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()
    stale = (
        person is None
        or person.fetched_at is None
        or (clock.now() - clock.as_utc(person.fetched_at) > REFRESH_AFTER)
    )
    if stale and directory is not None:
        try:
            user = directory.user(user_id)
        except Exception as exc:  # noqa: BLE001 — a Slack hiccup must not stop the caller
            log.warning("profile lookup failed for %s: %s", user_id, type(exc).__name__)
            user = None
        if user is not None:
            person = person or Person(team_id=team_id, slack_user_id=user_id)
            _apply_profile(person, user)
            session.add(person)
            session.flush()
    if person is None:
        person = Person(team_id=team_id, slack_user_id=user_id, name=user_id)
        session.add(person)
        session.flush()
    return person


def person_by_email(
    session: Session, team_id: str, email: str, directory: Directory | None = None
) -> Person | None:
    email = email.strip().lower()
    person = session.exec(
        select(Person).where(Person.team_id == team_id, col(Person.email).ilike(email))
    ).first()
    if person is None and directory is not None:
        user = directory.user_by_email(email)
        if user:
            person = session.exec(
                select(Person).where(Person.team_id == team_id, Person.slack_user_id == user["id"])
            ).first() or Person(team_id=team_id, slack_user_id=user["id"])
            _apply_profile(person, user)
            person.email = person.email or email
            session.add(person)
            session.flush()
    return person


def is_cs_admin(session: Session, team_id: str, user_id: str, cs_admins: Iterable[str]) -> bool:
    """CS admins: listed in CS_ADMINS (by user id or email) or flagged on their Person row
    (`followthrough people import`)."""
    admins = {a.strip().lower() for a in cs_admins}
    if user_id.lower() in admins:
        return True
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()
    if person is None:
        return False
    return person.is_admin or bool(person.email and person.email.lower() in admins)


def timezone_of(person: Person | None, default: str) -> ZoneInfo:
    """A person's zone, or the configured default when Slack gave none (or a bad one)."""
    for name in ((person.tz if person else None), default):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", name.lower()).strip()


def match_person(session: Session, team_id: str, name_or_email: str | None) -> Person | None:
    """Match a transcript speaker to a workspace member by email, full name or first name.

    Only an unambiguous match counts: two "Sam"s means no match (the reviewer picks).
    """
    if not name_or_email:
        return None
    text = name_or_email.strip()
    people = [
        p
        for p in session.exec(select(Person).where(Person.team_id == team_id))
        if not p.deactivated
    ]
    if EMAIL_RE.match(text):
        hits = [p for p in people if p.email and p.email.lower() == text.lower()]
        return hits[0] if len(hits) == 1 else None
    wanted = _norm(text)
    if not wanted:
        return None
    for key in (lambda p: _norm(p.real_name or ""), lambda p: _norm(p.name)):
        hits = [p for p in people if key(p) == wanted]
        if len(hits) == 1:
            return hits[0]
    first = wanted.split()[0]
    hits = [p for p in people if _norm(p.real_name or p.name).split()[:1] == [first]]
    return hits[0] if len(hits) == 1 else None
