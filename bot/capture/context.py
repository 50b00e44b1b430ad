"""Who was on the call and which account it was about, before any commitment is read.

Speakers are matched to workspace members strictly (full name or email, or a bare first name
that only one member has): a customer called "Sam Lee" must never become our "Sam Patel".
The account comes from the channel the file was shared in, else the file name, else the
words and speakers of the transcript; a tie means no guess (the reviewer picks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from bot.models import Account, Contact, Person
from bot.people.service import match_person

_WORD = re.compile(r"[a-z0-9]+")
_GENERIC = frozenset(
    "the inc corp corporation co company group llc ltd gmbh sa ag plc holdings health labs "
    "systems software technologies tech global international call meeting notes transcript "
    "recording zoom teams qbr sync weekly kickoff review".split()
)


@dataclass(frozen=True)
class AccountFacts:
    id: int
    name: str
    domain: str | None = None
    channel_id: str | None = None
    contact_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallPeople:
    """Speaker label → Slack user id for our side; everyone else is the customer's."""

    members: dict[str, str] = field(default_factory=dict)
    ours: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def strict_member(session: Session, team_id: str, label: str) -> Person | None:
    """A workspace member for a speaker label, only when the match cannot be a namesake."""
    person = match_person(session, team_id, label)
    if person is None:
        return None
    wanted = _norm(re.sub(r"\(.*?\)", " ", label))
    if "@" in label or len(wanted.split()) <= 1:
        return person
    names = {_norm(person.real_name or ""), _norm(person.name or "")}
    return person if wanted in names else None


def call_people(
    session: Session, team_id: str, speakers: Sequence[str], account: AccountFacts | None = None
) -> CallPeople:
    """Our people (workspace members) and the customer's (the account's contacts, or labels
    naming the account); anyone else stays unknown, so the reviewer picks an owner."""
    members: dict[str, str] = {}
    for label in speakers:
        person = strict_member(session, team_id, label)
        if person is not None:
            members[label] = person.slack_user_id
    return CallPeople(
        members=members,
        ours=tuple(s for s in speakers if s in members),
        customers=tuple(s for s in speakers if s not in members and is_customer(s, account)),
    )


def is_customer(label: str, account: AccountFacts | None) -> bool:
    """Pure: a speaker label that is one of the account's contacts or names the account."""
    if account is None:
        return False
    wanted = _norm(re.sub(r"\(.*?\)", " ", label))
    contacts = {_norm(c) for c in account.contact_names}
    if wanted in contacts:
        return True
    first = wanted.split()[:1]
    if (
        len(wanted.split()) == 1
        and first
        and sum(1 for c in contacts if c.split()[:1] == first) == 1
    ):
        return True
    tags = _words(" ".join(re.findall(r"\((.*?)\)", label)))
    keys = set(_distinctive(account.name)[:1]) | {_domain_stem(account.domain) or ""}
    return bool(tags & (keys - {""}))


def _distinctive(name: str) -> list[str]:
    return [w for w in _WORD.findall(name.lower()) if len(w) >= 3 and w not in _GENERIC]


def _domain_stem(domain: str | None) -> str | None:
    if not domain:
        return None
    stem = domain.lower().split(".")[0]
    return stem if len(stem) >= 3 and stem not in _GENERIC else None


def _unique_best(scores: dict[int, int]) -> int | None:
    if not scores:
        return None
    best = max(scores.values())
    winners = [k for k, v in scores.items() if v == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def guess_account(
    accounts: Iterable[AccountFacts],
    *,
    channel_id: str | None,
    filename: str,
    text: str,
    speakers: Sequence[str],
) -> int | None:
    """Pure: the account this call was most likely about, or None when unsure."""
    accounts = list(accounts)
    if channel_id:
        in_channel = [a.id for a in accounts if a.channel_id and a.channel_id == channel_id]
        if len(in_channel) == 1:
            return in_channel[0]
    file_words = _words(filename)
    by_file = {}
    for a in accounts:
        keys = set(_distinctive(a.name)[:1])
        stem = _domain_stem(a.domain)
        if stem:
            keys.add(stem)
        if keys & file_words:
            by_file[a.id] = len(keys & file_words)
    hit = _unique_best(by_file)
    if hit is not None:
        return hit
    lowered = f" {_norm(text)} "
    speaker_set = {_norm(s) for s in speakers}
    scores: dict[int, int] = {}
    for a in accounts:
        score = 0
        full = _norm(a.name)
        if full and f" {full} " in lowered:
            score += 3
        first = _distinctive(a.name)[:1]
        if first and f" {first[0]} " in lowered:
            score += 1
        if a.domain and a.domain.lower() in text.lower():
            score += 3
        score += 4 * sum(1 for c in a.contact_names if _norm(c) in speaker_set)
        if score:
            scores[a.id] = score
    return _unique_best(scores)


def account_facts(session: Session, team_id: str, limit: int = 5000) -> list[AccountFacts]:
    """Every account of the team with its contacts' names (for speaker matches)."""
    contacts: dict[int, list[str]] = {}
    for c in session.exec(select(Contact).where(Contact.team_id == team_id).limit(limit * 5)):
        contacts.setdefault(c.account_id, []).append(c.name)
    return [
        AccountFacts(
            a.id or 0, a.name, a.domain, a.slack_channel_id, tuple(contacts.get(a.id or 0, ()))
        )
        for a in session.exec(select(Account).where(Account.team_id == team_id).limit(limit))
    ]
