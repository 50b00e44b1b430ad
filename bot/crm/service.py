"""The CRM as the book of business: the sync (CRM → accounts, contacts, people) and the
write-back queue (commitments → tasks, closed cases → notes). The only place in `bot.crm`
that opens transactions.

Sync. One `crm_connection` row per workspace is the job: a sync claims it (lease + token),
reads each object's changes page by page, and writes every page *with the cursor that
follows it* in one transaction fenced by the token. A sync that dies, is refused its token
or loses its lease keeps everything up to its last page and resumes exactly there.
The CRM owns the fields it provides (see the README): the sync overwrites them, a CSV import
leaves them alone. A change to an account's CSM, AE, ARR, renewal date or champion is
audited as `crm_field_changed` (contracts.md §2): the signals read them as risk signals.

Write-back. A `crm_write` row is written in the transaction that confirms / completes a
commitment or closes a case. The sender claims due rows, computes the task or note from
the current state, and before creating anything looks the object up in the CRM by our
external id (the row's `key`), so a sender that crashed after the create adopts the task it
made instead of making a second. Failures are retried with backoff, shown to the CSM after a
few, and never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import clock
from bot.config import CrmVendor, Settings
from bot.crm.connector import (
    CrmConnector,
    record_url,
)
from bot.crm.mapping import (
    LocatedMapping,
    load_mapping,
)
from bot.db import session_scope
from bot.models import (
    Account,
    CommitmentStatus,
    CrmConnection,
    CrmRecord,
    CrmWrite,
    Person,
)
from bot.states import Machine, move_rows

log = logging.getLogger(__name__)
VENDOR_LABEL = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
SYNC_LEASE = dt.timedelta(minutes=10)
CONN_TABLE = CrmConnection.__table__  # type: ignore[attr-defined]
_ANY_SYNC = ("new", "ok", "error", "auth_failed", "syncing")  # syncing: its lease ran out
CONNECTION = Machine(
    "CRM connection",
    CONN_TABLE,
    {
        "claim": {s: "syncing" for s in _ANY_SYNC},
        "succeed": {"syncing": "ok"},
        "pause": {"syncing": "syncing"},  # a slice of a long sync used its time
        "fail": {"syncing": "error"},
        "refuse": {"syncing": "auth_failed"},  # the token was refused: reconnect
    },
)


class Fenced(RuntimeError):
    """Another sync took the connection over (our lease ran out): stop without writing."""


# --- the connection ---------------------------------------------------------------------


def get_connection(session: Session, team_id: str) -> CrmConnection | None:
    return session.exec(select(CrmConnection).where(CrmConnection.team_id == team_id)).first()


def ensure_connection(session: Session, team_id: str, settings: Settings) -> CrmConnection | None:
    """The workspace's CRM connection; the settings (CRM_VENDOR …) are the single-workspace
    default, so the first use creates it."""
    conn = get_connection(session, team_id)
    if conn is None and settings.crm_vendor != CrmVendor.NONE:
        conn = CrmConnection(
            team_id=team_id, vendor=settings.crm_vendor.value, write_back=settings.crm_write_back
        )
        session.add(conn)
        session.flush()
    return conn


def build_connector(
    settings: Settings,
    vendor: str,
    mapping: LocatedMapping,
    *,
    backoff: float = 1.0,
    portal: str | None = None,
    attempts: int = 8,
) -> CrmConnector:
    """A connector from the settings (tokens, base URLs) and the mapping file."""
    if vendor == "hubspot":
        from bot.crm.hubspot import HubSpotConnector

        assert mapping.config.hubspot is not None
        return HubSpotConnector(
            mapping.config.hubspot.model_copy(deep=True),
            api_url=settings.hubspot_api_url,
            token=settings.hubspot_token,
            client_id=settings.hubspot_client_id,
            client_secret=settings.hubspot_client_secret,
            refresh_token=settings.hubspot_refresh_token,
            timeout=settings.crm_timeout_seconds,
            backoff=backoff,
            portal=portal,
            attempts=attempts,
        )
    from bot.crm.salesforce import SalesforceConnector

    assert mapping.config.salesforce is not None
    return SalesforceConnector(
        mapping.config.salesforce.model_copy(deep=True),
        login_url=settings.salesforce_login_url,
        client_id=settings.salesforce_client_id,
        username=settings.salesforce_username,
        private_key_file=settings.salesforce_private_key_file,
        client_secret=settings.salesforce_client_secret,
        refresh_token=settings.salesforce_refresh_token,
        api_version=settings.salesforce_api_version,
        timeout=settings.crm_timeout_seconds,
        backoff=backoff,
        attempts=attempts,
    )


def mapping_for(settings: Settings, vendor: str) -> LocatedMapping:
    """The mapping file, validated; raises MappingError (line-precise) when it is wrong."""
    mapping = load_mapping(settings.crm_mapping_file)
    mapping.config.for_vendor(vendor)
    return mapping


def claim_sync(
    engine: Engine, team_id: str, now: dt.datetime, *, force: bool = False
) -> int | None:
    """Take the workspace's sync if it is due (or forced) and nobody holds it; the token."""
    t = CONN_TABLE
    lease_free = sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now)
    due = sa.or_(t.c.next_sync_at.is_(None), t.c.next_sync_at <= now, t.c.full_requested)
    cond = [t.c.team_id == team_id, lease_free]
    if not force:
        cond.append(due)
    with session_scope(engine) as session:
        rows = move_rows(
            session,
            CONNECTION,
            "claim",
            *cond,
            values={
                "lease_until": now + SYNC_LEASE,
                "attempts": t.c.attempts + 1,
                "last_started_at": now,
            },
            returning=(t.c.attempts,),
        )
        return int(rows[0][0]) if rows else None


def due_teams(engine: Engine, now: dt.datetime) -> list[str]:
    """Workspaces whose sync is due: one index probe when none is."""
    t = CONN_TABLE
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(t.c.team_id).where(
                sa.or_(t.c.next_sync_at.is_(None), t.c.next_sync_at <= now, t.c.full_requested),
                sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now),
            )
        ).all()
    return [r[0] for r in rows]


def _fenced_update(session: Session, conn_id: int, token: int, **values: Any) -> None:
    t = CONN_TABLE
    result = session.execute(
        sa.update(t).where(t.c.id == conn_id, t.c.attempts == token).values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Fenced(f"crm sync of connection {conn_id} was taken over")


# --- the sync ---------------------------------------------------------------------------


Progress = Callable[[str, int], None]


# --- who owns an account's fields -------------------------------------------------------------


def owned_fields(
    session: Session, team_id: str, account_id: int | None
) -> tuple[str, set[str]] | None:
    """(vendor, Account columns the CRM owns) for a CRM-synced account, else None: a CSV
    import leaves those columns alone instead of fighting the next sync."""
    if account_id is None:
        return None
    rec = session.exec(
        select(CrmRecord).where(
            CrmRecord.team_id == team_id,
            CrmRecord.kind == "company",
            CrmRecord.local_id == account_id,
            col(CrmRecord.deleted_at).is_(None),
        )
    ).first()
    if rec is None:
        return None
    columns = {
        "name",
        "domain",
        "crm_id",
        "csm_user_id",
        "ae_user_id",
        "arr",
        "renewal_date",
        "tier",
    }
    return VENDOR_LABEL.get(rec.vendor, rec.vendor), columns


# --- what Slack shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountCrm:
    vendor: str
    external_id: str
    url: str | None
    synced_at: dt.datetime | None
    deleted_at: dt.datetime | None

    @property
    def label(self) -> str:
        return VENDOR_LABEL.get(self.vendor, self.vendor)


def account_crm(
    session: Session, team_id: str, account_id: int, settings: Settings | None = None
) -> AccountCrm | None:
    """The CRM record behind an account (link, last sync, deleted?), or None."""
    rec = session.exec(
        select(CrmRecord)
        .where(
            CrmRecord.team_id == team_id,
            CrmRecord.kind == "company",
            CrmRecord.local_id == account_id,
        )
        .order_by(col(CrmRecord.deleted_at).is_not(None), col(CrmRecord.id))
    ).first()
    if rec is None:
        return None
    conn = get_connection(session, team_id)
    app_url = settings.hubspot_app_url if settings else "https://app.hubspot.com"
    url = record_url(rec.vendor, conn.portal if conn else None, app_url, "company", rec.external_id)
    synced = clock.as_utc(conn.last_success_at) if conn and conn.last_success_at else None
    deleted = clock.as_utc(rec.deleted_at) if rec.deleted_at else None
    return AccountCrm(rec.vendor, rec.external_id, url, synced, deleted)


def crm_facts(
    session: Session, team_id: str, account: Account, settings: Settings | None = None
) -> dict[str, Any]:
    """Facts for the case context: who owns the account and how fresh the CRM data is."""
    facts: dict[str, Any] = {}
    for column, key in (("csm_user_id", "csm_name"), ("ae_user_id", "ae_name")):
        uid = getattr(account, column)
        if uid:
            person = session.exec(
                select(Person).where(Person.team_id == team_id, Person.slack_user_id == uid)
            ).first()
            facts[key] = (person.real_name or person.name) if person else None
    link = account_crm(session, team_id, account.id or 0, settings)
    if link is not None:
        facts["crm"] = link.label
        facts["crm_url"] = link.url
        facts["crm_synced_at"] = link.synced_at.isoformat() if link.synced_at else None
        if link.deleted_at:
            facts["crm_deleted_at"] = link.deleted_at.date().isoformat()
    return {k: v for k, v in facts.items() if v is not None}


@dataclass(frozen=True)
class Health:
    vendor: str
    status: str
    last_success_at: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    warnings: int
    writes_waiting: int
    writes_failed: int
    counts: dict[str, int]

    @property
    def label(self) -> str:
        return VENDOR_LABEL.get(self.vendor, self.vendor)


def health(session: Session, team_id: str) -> Health | None:
    conn = get_connection(session, team_id)
    if conn is None:
        return None
    waiting = session.exec(
        select(sa.func.count())
        .select_from(CrmWrite)
        .where(CrmWrite.team_id == team_id, col(CrmWrite.status).in_(["pending", "claimed"]))
    ).one()
    failed = session.exec(
        select(sa.func.count())
        .select_from(CrmWrite)
        .where(
            CrmWrite.team_id == team_id,
            sa.or_(col(CrmWrite.status) == "failed", col(CrmWrite.notified_at).is_not(None)),
            CrmWrite.status != "done",
        )
    ).one()
    return Health(
        conn.vendor,
        conn.status,
        clock.as_utc(conn.last_success_at) if conn.last_success_at else None,
        conn.last_error,
        clock.as_utc(conn.last_error_at) if conn.last_error_at else None,
        int((conn.progress or {}).get("warnings", 0)),
        int(waiting),
        int(failed),
        dict(conn.progress or {}),
    )


# --- write-back: intents ---------------------------------------------------------------------

COMMITMENT_DESIRED = {
    CommitmentStatus.OPEN: "open",
    CommitmentStatus.DONE: "done",
    CommitmentStatus.DISMISSED: "deferred",
}


# --- write-back: the sender ---------------------------------------------------------------------

WRITE_LEASE = dt.timedelta(minutes=5)
NOTIFY_AFTER = 5  # failed attempts before the CSM is told (the row keeps retrying)
MAX_BACKOFF = dt.timedelta(minutes=30)
WRITE_BATCH = 50


def picker_description(session: Session, account: Account) -> str | None:
    """The account picker's second line: CSM, ARR, renewal (≤ 75 characters, Slack's limit)."""
    parts: list[str] = []
    if account.csm_user_id:
        person = session.exec(
            select(Person).where(
                Person.team_id == account.team_id, Person.slack_user_id == account.csm_user_id
            )
        ).first()
        if person is not None:
            parts.append(f"CSM {(person.real_name or person.name).split()[0]}")
    if account.arr:
        arr = account.arr
        parts.append(f"ARR ${arr / 1000:,.0f}k" if arr < 1_000_000 else f"ARR ${arr / 1e6:,.1f}M")
    if account.renewal_date:
        passed = account.renewal_date < clock.now().date()
        parts.append(
            f"{'renewal passed' if passed else 'renews'} {account.renewal_date.isoformat()}"
        )
    if not parts and account.domain:
        parts.append(account.domain)
    text = " · ".join(parts)
    return text[:75] or None
