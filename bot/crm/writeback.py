"""The CRM write-back queue (commitments → tasks, closed cases → notes).

A `crm_write` row is written in the transaction that confirms / completes a commitment or
closes a case. The sender claims due rows, computes the task or note from the current state,
and before creating anything looks the object up in the CRM by our external id (the row's
`key`), so a sender that crashed after the create adopts the task it made instead of making
a second. Failures are retried with backoff, shown to the CSM after a few, and never dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.config import Settings
from bot.crm.connector import (
    CrmAuthError,
    CrmConnector,
    CrmError,
    NoteSpec,
    Remote,
    TaskSpec,
)
from bot.crm.service import (
    COMMITMENT_DESIRED,
    MAX_BACKOFF,
    NOTIFY_AFTER,
    VENDOR_LABEL,
    WRITE_BATCH,
    WRITE_LEASE,
    get_connection,
)
from bot.db import is_sqlite, session_scope
from bot.models import (
    Account,
    Case,
    CaseStep,
    Commitment,
    Contact,
    CrmConnection,
    CrmRecord,
    CrmWrite,
    Person,
    Playbook,
)
from bot.outbox.service import enqueue
from bot.states import Machine, move, move_rows

log = logging.getLogger(__name__)


WRITE_TABLE = CrmWrite.__table__  # type: ignore[attr-defined]


WRITE = Machine(
    "CRM write",
    WRITE_TABLE,
    {
        # what the CRM should hold changed: (again) due now
        "queue": {
            "pending": "pending",
            "claimed": "pending",
            "done": "pending",
            "failed": "pending",
        },
        "claim": {"pending": "claimed", "claimed": "claimed"},  # claimed: its lease expired
        "written": {"claimed": "done"},
        "skip": {"claimed": "done"},  # nothing to write (the account is not in the CRM)
        "later": {"claimed": "pending"},  # failed, will be retried
        "refused": {"claimed": "failed"},  # the CRM refused it: shown, retried on request
        "retry": {"failed": "pending"},
    },
)


def _writes_on(session: Session, team_id: str) -> CrmConnection | None:
    conn = get_connection(session, team_id)
    return conn if conn is not None and conn.write_back else None


def commitment_changed(
    session: Session, commitment: Commitment, now: dt.datetime | None = None
) -> CrmWrite | None:
    """Record (in the caller's transaction) that the CRM task must match this commitment:
    created when it is confirmed, completed when done, deferred when dismissed."""
    conn = _writes_on(session, commitment.team_id)
    desired = COMMITMENT_DESIRED.get(commitment.status)  # type: ignore[call-overload]
    if conn is None or desired is None or commitment.id is None:
        return None
    key = f"ft-commitment-{commitment.id}"
    row = session.exec(
        select(CrmWrite).where(CrmWrite.team_id == commitment.team_id, CrmWrite.key == key)
    ).first()
    if row is None:
        if desired == "deferred":
            return None  # never reached the CRM: nothing to close
        row = CrmWrite(
            team_id=commitment.team_id,
            vendor=conn.vendor,
            key=key,
            kind="task",
            entity="commitment",
            entity_id=commitment.id,
        )
    return _pending(session, row, desired, now)


def case_closed(session: Session, case: Case, now: dt.datetime | None = None) -> CrmWrite | None:
    """Record (in the closing transaction) the note a closed case leaves on the company."""
    conn = _writes_on(session, case.team_id)
    if conn is None or case.id is None:
        return None
    key = f"ft-case-{case.id}-note"
    row = session.exec(
        select(CrmWrite).where(CrmWrite.team_id == case.team_id, CrmWrite.key == key)
    ).first()
    if row is not None and row.external_id:
        return row  # one note per case, even if it is reopened and closed again
    row = row or CrmWrite(
        team_id=case.team_id,
        vendor=conn.vendor,
        key=key,
        kind="note",
        entity="case",
        entity_id=case.id,
    )
    return _pending(session, row, "done", now)


def _pending(session: Session, row: CrmWrite, desired: str, now: dt.datetime | None) -> CrmWrite:
    due = now or clock.now()
    if row.id is None:  # a new intent (status defaults to pending)
        row.desired, row.due_at = desired, due
        session.add(row)
        session.flush()
    else:
        move(session, WRITE, row, "queue", desired=desired, due_at=due, last_error=None)
    audit.record(
        session,
        row.team_id,
        "system",
        "crm_write",
        row.id,
        "queued",
        to_state=desired,
        key=row.key,
    )
    return row


def write_backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(seconds=30 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def claim_writes(
    engine: Engine, now: dt.datetime, limit: int = WRITE_BATCH
) -> list[tuple[int, int]]:
    """Atomically take due writes (pending, or claimed with an expired lease)."""
    t = WRITE_TABLE
    with session_scope(engine) as session:
        pick = (
            sa.select(t.c.id)
            .where(t.c.status.in_(["pending", "claimed"]), t.c.due_at <= now)
            .order_by(t.c.due_at)
            .limit(limit)
        )
        if not is_sqlite(engine):
            pick = pick.with_for_update(skip_locked=True)
        rows = move_rows(
            session,
            WRITE,
            "claim",
            t.c.id.in_(pick),
            values={
                "lease_until": now + WRITE_LEASE,
                "due_at": now + WRITE_LEASE,
                "attempts": t.c.attempts + 1,
            },
            returning=(t.c.id, t.c.attempts),
        )
    return [(int(r[0]), int(r[1])) for r in rows]


def _settle(session: Session, write_id: int, token: int, action: str, **values: Any) -> bool:
    """The claim's outcome, only if the claim is still ours (token and state unchanged)."""
    t = WRITE_TABLE
    done = move_rows(
        session, WRITE, action, t.c.id == write_id, t.c.attempts == token, values=values
    )
    return done == 1


def _keep_id(session: Session, write_id: int, token: int, **values: Any) -> None:
    """Store the CRM's id as soon as we have it (no state change)."""
    t = WRITE_TABLE
    session.execute(sa.update(t).where(t.c.id == write_id, t.c.attempts == token).values(**values))


def send_write(
    engine: Engine,
    settings: Settings,
    connector: CrmConnector,
    write_id: int,
    token: int,
    now: dt.datetime,
) -> str:
    """Make the CRM match one claimed write: find-or-create, then update; the outcome."""
    with session_scope(engine) as session:
        row = session.get(CrmWrite, write_id)
        if row is None or row.attempts != token:
            return "taken"
        spec, skip, fingerprint = _spec(session, row, now)
        team_id, kind, key, external_id, synced = (
            row.team_id,
            row.kind,
            row.key,
            row.external_id,
            row.synced,
        )
    if spec is None:
        with session_scope(engine) as session:
            _settle(
                session,
                write_id,
                token,
                "skip",
                lease_until=None,
                due_at=None,
                last_error=skip,
                done_at=now,
            )
        return "skipped"
    try:
        remote: Remote | None = Remote(external_id) if external_id else connector.find(kind, key)
        if remote is None:
            try:
                remote = (
                    connector.create_task(spec) if kind == "task" else connector.create_note(spec)
                )
            except CrmError as exc:
                # our id is unique in the CRM: "already exists" means an earlier attempt
                # made it (HubSpot 409, Salesforce DUPLICATE_VALUE) — adopt it
                if exc.http_status != 409 and "DUPLICATE_VALUE" not in str(exc):
                    raise
                remote = connector.find(kind, key)
                if remote is None:
                    raise
            synced = fingerprint
            with session_scope(engine) as session:  # keep the id even if a later step fails
                _keep_id(session, write_id, token, external_id=remote.id, synced=synced)
        elif kind == "task" and synced != fingerprint:
            connector.update_task(remote.id, spec)
        with session_scope(engine) as session:
            ok = _settle(
                session,
                write_id,
                token,
                "written",
                external_id=remote.id,
                synced=fingerprint,
                lease_until=None,
                due_at=None,
                last_error=None,
                done_at=now,
            )
            if ok:
                audit.record(
                    session,
                    team_id,
                    "system",
                    "crm_write",
                    write_id,
                    "written",
                    external_id=remote.id,
                    key=key,
                )
        return "written" if ok else "changed"
    except CrmError as exc:
        return _failed(engine, write_id, token, now, exc)


def _failed(engine: Engine, write_id: int, token: int, now: dt.datetime, exc: CrmError) -> str:
    permanent = not exc.retryable and not isinstance(exc, CrmAuthError)
    with session_scope(engine) as session:
        row = session.get(CrmWrite, write_id)
        if row is None or row.attempts != token:
            return "taken"
        tell = row.notified_at is None and (
            permanent or row.attempts >= NOTIFY_AFTER or isinstance(exc, CrmAuthError)
        )
        values: dict[str, Any] = {
            "last_error": str(exc)[:500],
            "lease_until": None,
            "due_at": None if permanent else now + write_backoff(row.attempts),
        }
        if tell:
            values["notified_at"] = now
        if not _settle(session, write_id, token, "refused" if permanent else "later", **values):
            return "changed"
        audit.record(
            session,
            row.team_id,
            "system",
            "crm_write",
            write_id,
            "failed",
            error=str(exc)[:300],
            permanent=permanent,
            attempts=row.attempts,
        )
        if tell:
            _tell_csm(session, row, exc, permanent, now)
    log.info(
        "crm write %s failed (%s): %s", write_id, "permanent" if permanent else "will retry", exc
    )
    return "failed" if permanent else "retry"


def _tell_csm(
    session: Session, row: CrmWrite, exc: CrmError, permanent: bool, now: dt.datetime
) -> None:
    """A DM to the CSM through the outbox, in the transaction that records the failure."""
    label = VENDOR_LABEL.get(row.vendor, row.vendor)
    if row.entity == "commitment":
        c = session.get(Commitment, row.entity_id)
        if c is None:
            return None
        account = session.get(Account, c.account_id) if c.account_id else None
        who = (account.csm_user_id if account else None) or c.owner_user_id or c.created_by
        what = f"the {label} task for “{c.text[:120]}”"
    else:
        case = session.get(Case, row.entity_id)
        if case is None:
            return None
        who = case.owner_user_id or case.reporter_user_id
        what = f"the {label} note for case #{case.id}"
    if not who:
        return None
    then = (
        "It will not be retried: fix it in the CRM, then run `followthrough crm retry`."
        if permanent
        else "It is queued and will go out when the CRM answers again — nothing is lost."
    )
    enqueue(
        session,
        row.team_id,
        f"crm_failure:{row.id}:{row.attempts}",
        user=who,
        text=f":warning: Could not write {what}: {exc}. {then}",
        kind="crm_failure",
        entity=("crm_write", row.id or 0),
        now=now,
    )


def _spec(session: Session, row: CrmWrite, now: dt.datetime) -> tuple[Any, str | None, str]:
    """The task or note as it should be now, or (None, why) when there is nothing to write."""
    if row.entity == "commitment":
        c = session.get(Commitment, row.entity_id)
        if c is None or c.team_id != row.team_id:
            return None, "the commitment no longer exists", ""
        company = _company_ext(session, row.team_id, c.account_id)
        if company is None:
            return None, "skipped: the account is not in the CRM", ""
        owner = _owner_ext(session, row.team_id, c.owner_user_id) or _owner_ext(
            session, row.team_id, _csm(session, c.account_id)
        )
        due = c.due_date or clock.as_utc(c.decided_at or c.created_at).date()
        quote = f"\n\nOn the call: “{c.evidence.strip()[:500]}”" if c.evidence else ""
        spec: Any = TaskSpec(
            key=row.key,
            subject=c.text.strip()[:200],
            body=(
                f"{c.text.strip()}\n\nOwner: {c.owner_name or 'unassigned'}"
                f"{f' · due {c.due_date.isoformat()}' if c.due_date else ''}{quote}"
                f"\n\nTracked by Followthrough (commitment #{c.id})."
            ),
            due=due,
            status=row.desired,
            owner_id=owner,
            company_id=company,
            contact_id=_contact_ext(session, row.team_id, c),
        )
    else:
        case = session.get(Case, row.entity_id)
        if case is None or case.team_id != row.team_id:
            return None, "the case no longer exists", ""
        company = _company_ext(session, row.team_id, case.account_id, include_deleted=False)
        if company is None:
            return None, "skipped: the account is not (or no longer) in the CRM", ""
        spec = NoteSpec(
            key=row.key,
            title=(
                f"Followthrough case #{case.id}: {case.risk_key.replace('_', ' ')} — {case.outcome}"
            ),
            body=_case_note(session, case),
            at=clock.as_utc(case.resolved_at or now),
            owner_id=_owner_ext(session, row.team_id, case.owner_user_id),
            company_id=company,
        )
    fingerprint = hashlib.sha256(
        json.dumps(spec.__dict__, default=str, sort_keys=True).encode()
    ).hexdigest()[:32]
    return spec, None, fingerprint


def _case_note(session: Session, case: Case) -> str:
    playbook = session.get(Playbook, case.playbook_id)
    steps = session.exec(
        select(CaseStep).where(CaseStep.case_id == case.id).order_by(col(CaseStep.position))
    )
    lines = [
        f"Risk: {case.risk_key.replace('_', ' ')}",
        f"Playbook: {playbook.name if playbook else case.risk_key} v{case.playbook_version}",
        f"Outcome: {'saved' if case.outcome == 'saved' else case.outcome}",
        f"Resolved at step: {case.resolution_step or '—'} of {case.total_steps}",
        "",
        "Steps taken:",
    ]
    for s in steps:
        decision = {"yes": "done", "edit": "done (edited)", "no": "skipped"}.get(
            s.decision or "", s.status
        )
        lines.append(f"  {s.position}. {s.summary} — {decision}")
    if case.context:
        lines += ["", f"Why it was opened: {case.context[:1500]}"]
    if case.card_channel and case.card_ts:
        ts = case.card_ts.replace(".", "")
        lines += ["", f"Case in Slack: https://slack.com/archives/{case.card_channel}/p{ts}"]
    return "\n".join(lines)


def _company_ext(
    session: Session, team_id: str, account_id: int | None, include_deleted: bool = False
) -> str | None:
    if not account_id:
        return None
    stmt = select(CrmRecord.external_id).where(
        CrmRecord.team_id == team_id,
        CrmRecord.kind == "company",
        CrmRecord.local_id == account_id,
        col(CrmRecord.merged_into).is_(None),
    )
    if not include_deleted:
        stmt = stmt.where(col(CrmRecord.deleted_at).is_(None))
    return session.exec(stmt).first()


def _csm(session: Session, account_id: int | None) -> str | None:
    account = session.get(Account, account_id) if account_id else None
    return account.csm_user_id if account else None


def _owner_ext(session: Session, team_id: str, user_id: str | None) -> str | None:
    """The CRM owner id of a Slack person (owner records point at Person rows)."""
    if not user_id:
        return None
    return session.exec(
        select(CrmRecord.external_id)
        .join(Person, col(Person.id) == CrmRecord.local_id)
        .where(
            CrmRecord.team_id == team_id,
            CrmRecord.kind == "owner",
            Person.team_id == team_id,
            Person.slack_user_id == user_id,
        )
    ).first()


def _contact_ext(session: Session, team_id: str, c: Commitment) -> str | None:
    """The customer contact a task is about: the named owner on the customer side, else the
    account's champion."""
    if not c.account_id:
        return None
    contacts = list(
        session.exec(
            select(Contact).where(Contact.team_id == team_id, Contact.account_id == c.account_id)
        )
    )
    name = (c.owner_name or "").strip().lower()
    chosen = next((x for x in contacts if name and x.name.lower().startswith(name)), None)
    chosen = chosen or next((x for x in contacts if x.role == "champion"), None)
    if chosen is None:
        return None
    return session.exec(
        select(CrmRecord.external_id).where(
            CrmRecord.team_id == team_id,
            CrmRecord.kind == "contact",
            CrmRecord.local_id == chosen.id,
        )
    ).first()


def retry_failed(session: Session, team_id: str, now: dt.datetime) -> int:
    """`crm retry`: failed writes go back to the queue (after the cause was fixed)."""
    t = WRITE_TABLE
    return int(
        move_rows(
            session,
            WRITE,
            "retry",
            t.c.team_id == team_id,
            values={"due_at": now, "notified_at": None},
        )
    )


def write_rows(session: Session, team_id: str, limit: int = 200) -> list[CrmWrite]:
    return list(
        session.exec(
            select(CrmWrite)
            .where(CrmWrite.team_id == team_id)
            .order_by(col(CrmWrite.id).desc())
            .limit(limit)
        )
    )


def release_write(engine: Engine, write_id: int, token: int, now: dt.datetime) -> str:
    """The CRM cannot be reached at all (not configured, mapping broken): try later."""
    with session_scope(engine) as session:
        row = session.get(CrmWrite, write_id)
        attempts = row.attempts if row else 1
        _settle(
            session,
            write_id,
            token,
            "later",
            lease_until=None,
            due_at=now + write_backoff(attempts),
            last_error="the CRM connection is not configured or its mapping is broken",
        )
    return "retry"
