"""Tracked commitments: the state machine and its persistence, shared by the review thread,
the digest, App Home and `/commitments`.

    proposed ──confirm──▶ open ──done──▶ done
        │                  │  ▲
        └──dismiss──▶ dismissed  └─reopen─┘ (from done)

Every transition checks the expected state (a stale button finds the commitment already
moved and says so), checks who may act, and writes an audit row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot import audit, clock
from bot.crm.writeback import commitment_changed
from bot.models import Account, Commitment, CommitmentStatus, Person
from bot.people.service import get_person
from bot.states import Machine, StateError, move

CS = CommitmentStatus
COMMITMENT = Machine(
    "commitment",
    Commitment.__table__,  # type: ignore[attr-defined]
    {
        "confirm": {CS.PROPOSED: CS.OPEN},
        "dismiss": {CS.PROPOSED: CS.DISMISSED, CS.OPEN: CS.DISMISSED},
        "done": {CS.OPEN: CS.DONE},
        "reopen": {CS.DONE: CS.OPEN, CS.DISMISSED: CS.PROPOSED},
    },
)
TRANSITIONS = COMMITMENT.transitions


class CommitmentError(ValueError):
    """A refused change; the message is shown to the person who tried it."""


@dataclass(frozen=True)
class Change:
    commitment: Commitment
    from_state: str
    to_state: str


def next_state(action: str, current: str) -> str:
    """Pure: the state after `action`, or CommitmentError naming why not."""
    try:
        return COMMITMENT.to(action, current)
    except StateError as exc:
        raise CommitmentError(str(exc)) from None


def get(session: Session, team_id: str, commitment_id: int) -> Commitment:
    row = session.exec(
        select(Commitment).where(Commitment.team_id == team_id, Commitment.id == commitment_id)
    ).first()
    if row is None:
        raise CommitmentError("That commitment no longer exists.")
    return row


def may_change(session: Session, c: Commitment, user_id: str, admins: set[str]) -> bool:
    """The uploader, the owner, the account's CSM and CS admins may change a commitment."""
    if user_id in admins or user_id in {c.created_by, c.owner_user_id}:
        return True
    if c.account_id:
        account = session.get(Account, c.account_id)
        if account and account.team_id == c.team_id and user_id == account.csm_user_id:
            return True
    person = session.exec(
        select(Person).where(Person.team_id == c.team_id, Person.slack_user_id == user_id)
    ).first()
    return bool(person and person.is_admin)


def transition(
    session: Session,
    team_id: str,
    commitment_id: int,
    action: str,
    actor: str,
    *,
    admins: frozenset[str] | set[str] = frozenset(),
    expected: str | None = None,
) -> Change:
    c = get(session, team_id, commitment_id)
    if not may_change(session, c, actor, set(admins)):
        raise CommitmentError(_who_can(session, c))
    if expected and c.status != expected:
        raise CommitmentError(f"This commitment is already {c.status}; nothing changed.")
    next_state(action, c.status)  # refused with the person's message before any write
    now = clock.now()
    values: dict[str, object] = {"updated_at": now, "followup_at": None}  # follow-ups: look again
    if action in {"confirm", "dismiss"}:
        values.update(decided_by=actor, decided_at=now)
    if action == "done":
        values["done_at"] = now
    if action == "reopen":
        values["done_at"] = None
    try:
        before = move(session, COMMITMENT, c, action, **values)
    except StateError as exc:
        raise CommitmentError(str(exc)) from None
    if c.status == CS.OPEN and c.owner_user_id:
        get_person(session, team_id, c.owner_user_id)  # so their digest finds them
    audit.record(
        session, team_id, actor, "commitment", c.id, action, from_state=before, to_state=c.status
    )
    commitment_changed(session, c, now)  # the CRM task follows, in this same transaction
    return Change(c, before, c.status)


def edit(
    session: Session,
    team_id: str,
    commitment_id: int,
    actor: str,
    *,
    admins: set[str] = frozenset(),  # type: ignore[assignment]
    text: str | None = None,
    owner_user_id: str | None = None,
    owner_name: str | None = None,
    due_date: dt.date | None | str = "keep",
    category: str | None = None,
    account_id: int | None = None,
) -> Commitment:
    """Change what a commitment says; records old and new values in the audit log."""
    c = get(session, team_id, commitment_id)
    if not may_change(session, c, actor, set(admins)):
        raise CommitmentError(_who_can(session, c))
    if c.status in {CS.DONE, CS.DISMISSED}:
        raise CommitmentError(f"This commitment is {c.status}; reopen it to edit.")
    changes: dict[str, list] = {}

    def put(field: str, value: object) -> None:
        old = getattr(c, field)
        if value != old:
            changes[field] = [
                str(old) if old is not None else None,
                str(value) if value is not None else None,
            ]
            setattr(c, field, value)

    if text is not None:
        if not text.strip():
            raise CommitmentError("The commitment text cannot be empty.")
        put("text", text.strip()[:500])
    if owner_user_id is not None:
        put("owner_user_id", owner_user_id or None)
        if owner_user_id:
            get_person(session, team_id, owner_user_id)  # so their digest finds them
    if owner_name is not None:
        put("owner_name", owner_name or None)
    if due_date != "keep":
        put("due_date", due_date)
        put("reminded_for", None)
        put("overdue_notified_at", None)
    if category is not None:
        put("category", category)
    if account_id is not None:
        put("account_id", account_id or None)
    if changes:
        c.updated_at = clock.now()
        c.followup_at = None  # a new due date or owner: the follow-up job looks again
        session.add(c)
        audit.record(session, team_id, actor, "commitment", c.id, "edited", changes=changes)
        if c.status == CS.OPEN:
            commitment_changed(session, c)  # owner, text or due date changed: update the task
    return c


def snooze(
    session: Session,
    team_id: str,
    commitment_id: int,
    actor: str,
    until: dt.date,
    today: dt.date,
    admins: frozenset[str] | set[str] = frozenset(),
) -> Commitment:
    if until <= today:
        raise CommitmentError(f"Pick a date after today ({today.isoformat()}) to snooze to.")
    c = get(session, team_id, commitment_id)
    if not may_change(session, c, actor, set(admins)):
        raise CommitmentError(_who_can(session, c))
    if c.status != CS.OPEN:
        raise CommitmentError(f"This commitment is {c.status}; only open ones can be snoozed.")
    before = c.snoozed_until
    c.snoozed_until, c.updated_at = until, clock.now()
    c.followup_at = None
    session.add(c)
    audit.record(
        session,
        team_id,
        actor,
        "commitment",
        c.id,
        "snoozed",
        until=until.isoformat(),
        before=before.isoformat() if before else None,
    )
    return c


def _who_can(session: Session, c: Commitment) -> str:
    names = [f"<@{u}>" for u in (c.owner_user_id, c.created_by) if u]
    if c.account_id:
        account = session.get(Account, c.account_id)
        if account and account.csm_user_id:
            names.append(f"<@{account.csm_user_id}> (CSM)")
    who = ", ".join(dict.fromkeys(names)) or "its owner"
    return f"Only {who} or a CS admin can change this commitment."


def open_for(
    session: Session,
    team_id: str,
    *,
    owner_user_id: str | None = None,
    account_id: int | None = None,
    limit: int = 200,
) -> list[Commitment]:
    """Open commitments, soonest due first (no date last)."""
    stmt = select(Commitment).where(Commitment.team_id == team_id, Commitment.status == CS.OPEN)
    if owner_user_id:
        stmt = stmt.where(Commitment.owner_user_id == owner_user_id)
    if account_id:
        stmt = stmt.where(Commitment.account_id == account_id)
    rows = list(session.exec(stmt.order_by(col(Commitment.id)).limit(limit)))
    rows.sort(key=lambda c: (c.due_date is None, c.due_date or dt.date.max, c.id))
    return rows
