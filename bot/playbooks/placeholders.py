"""The facts a playbook message may mention, with what to write when a fact is unknown.

One table serves three readers: the validator (unknown placeholder = typo), the renderer
(graceful text for a missing or empty fact) and docs / LLM prompts (the description).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Placeholder:
    name: str
    description: str
    missing: str  # written when the fact is unknown (and reported as missing)
    empty: str | None = None  # written when the fact is known but empty (an empty list)


_ALL = [
    Placeholder("account.name", "the customer's name", "(account name unknown)"),
    Placeholder("account.arr", "annual recurring revenue, e.g. $120,000", "(ARR unknown)"),
    Placeholder("account.renewal_date", "next renewal date", "(renewal date unknown)"),
    Placeholder("account.tier", "segment or tier, e.g. Enterprise", "(tier unknown)"),
    Placeholder("account.plan", "product plan or package", "(plan unknown)"),
    Placeholder("account.health", "current health score or colour", "(health unknown)"),
    Placeholder("days_to_renewal", "whole days until the renewal date", "(unknown)"),
    Placeholder("csm.name", "the account's CSM, full name", "(CSM unknown)"),
    Placeholder("csm.first_name", "the account's CSM, first name", "(CSM unknown)"),
    Placeholder("csm.email", "the account's CSM, email", "(CSM email unknown)"),
    Placeholder("assignee.name", "who does this step, full name", "(assignee unknown)"),
    Placeholder("assignee.first_name", "who does this step, first name", "(assignee unknown)"),
    Placeholder("recipient.name", "who receives this step, full name", "(recipient unknown)"),
    Placeholder("recipient.first_name", "who receives this step, first name", "there"),
    Placeholder("recipient.title", "the recipient's job title", "(title unknown)"),
    Placeholder("reporter.name", "who reported the risk", "(reporter unknown)"),
    Placeholder("reporter.first_name", "who reported the risk, first name", "(reporter unknown)"),
    Placeholder("risk.name", "the risk's name, e.g. Budget cut", "(risk unknown)"),
    Placeholder("context", "what happened, as written by the reporter", "(no details given)"),
    Placeholder(
        "open_commitments",
        "open commitments for the account, one per line",
        "(open commitments unknown)",
        "none open",
    ),
    Placeholder(
        "overdue_commitments",
        "overdue commitments, one per line",
        "(overdue commitments unknown)",
        "none overdue",
    ),
    Placeholder(
        "last_call_excerpt",
        "a short excerpt of the latest call transcript",
        "(no recent call on record)",
        "(no recent call on record)",
    ),
    Placeholder(
        "previous_cases",
        "earlier risk cases on this account and how they ended",
        "(no earlier cases on record)",
        "no earlier cases",
    ),
]

PLACEHOLDERS: dict[str, Placeholder] = {p.name: p for p in _ALL}
ALLOWED_PLACEHOLDERS: frozenset[str] = frozenset(PLACEHOLDERS)


def missing_text(name: str) -> str:
    """What to write for an unknown fact; unknown names get a readable generic text."""
    known = PLACEHOLDERS.get(name)
    if known:
        return known.missing
    return f"({name.replace('.', ' ').replace('_', ' ')} unknown)"


def empty_text(name: str) -> str:
    known = PLACEHOLDERS.get(name)
    return known.empty if known and known.empty is not None else "none"
