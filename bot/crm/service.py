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
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.config import CrmVendor, Settings
from bot.crm.connector import (
    CrmAuthError,
    CrmConnector,
    CrmError,
    NoteSpec,
    Owner,
    Page,
    Record,
    Remote,
    TaskSpec,
    record_url,
)
from bot.crm.mapping import (
    ACCOUNT_COLUMN,
    LocatedMapping,
    MappingError,
    company_fields,
    contact_role,
    full_name,
    load_mapping,
    normalise_domain,
)
from bot.db import is_sqlite, session_scope
from bot.models import (
    Account,
    Case,
    CaseStep,
    Commitment,
    CommitmentStatus,
    Contact,
    CrmConnection,
    CrmRecord,
    CrmWrite,
    Person,
    Playbook,
    Role,
)
from bot.outbox.service import enqueue
from bot.people.service import Directory, person_by_email
from bot.states import Machine, move, move_rows

log = logging.getLogger(__name__)
VENDOR_LABEL = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
SYNC_LEASE = dt.timedelta(minutes=10)
OWNERS_EVERY = dt.timedelta(hours=1)
DELETIONS_EVERY = dt.timedelta(hours=6)
MAX_WARNINGS = 50
AUDITED = ("csm_user_id", "ae_user_id", "renewal_date", "arr")
CONN_TABLE = CrmConnection.__table__  # type: ignore[attr-defined]
WRITE_TABLE = CrmWrite.__table__  # type: ignore[attr-defined]
CONTACT_TABLE = Contact.__table__  # type: ignore[attr-defined]
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
SYNC_ACTION = {"ok": "succeed", "partial": "pause", "error": "fail", "auth_failed": "refuse"}


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


@dataclass
class SyncReport:
    vendor: str
    full: bool
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    requests: int = 0

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        self.add("warnings")

    def lines(self) -> list[str]:
        label = VENDOR_LABEL.get(self.vendor, self.vendor)
        c = self.counts
        out = [
            f"{label} {'full' if self.full else 'incremental'} sync: "
            f"{c.get('companies', 0)} companies ({c.get('accounts_created', 0)} new), "
            f"{c.get('contacts', 0)} contacts, {c.get('owners', 0)} owners, "
            f"{c.get('deleted', 0)} deleted, {c.get('merged', 0)} merged, "
            f"{self.requests} requests"
        ]
        out += [f"  warning: {w}" for w in self.warnings]
        more = c.get("warnings", 0) - len(self.warnings)
        if more > 0:
            out.append(f"  …and {more} more warnings")
        if self.error:
            out.append(f"  stopped: {self.error}")
        return out


Progress = Callable[[str, int], None]


class Paused(RuntimeError):
    """A slice of a long sync used its time; the cursor is stored, the next tick goes on."""


def run_sync(
    engine: Engine,
    settings: Settings,
    team_id: str,
    now: dt.datetime,
    *,
    directory: Directory | None = None,
    full: bool = False,
    force: bool = False,
    connector: CrmConnector | None = None,
    progress: Progress | None = None,
    budget_seconds: float | None = None,
) -> SyncReport | None:
    """One sync of one workspace, if due (or forced). None when it was not ours to run.

    With `budget_seconds` (the worker), a long first sync runs in slices: each stops after
    its page that passes the budget, keeps its cursor, and the next tick continues."""
    with session_scope(engine) as session:
        conn = ensure_connection(session, team_id, settings)
        if conn is None:
            return None
        if full and not (conn.cursor or {}).get("full"):
            conn.full_requested = True
            session.add(conn)
    token = claim_sync(engine, team_id, now, force=force or full)
    if token is None:
        return None
    with session_scope(engine) as session:
        conn = get_connection(session, team_id)
        assert conn is not None and conn.id is not None
        vendor, conn_id, portal = conn.vendor, conn.id, conn.portal
        cursor = dict(conn.cursor or {})
        if (conn.full_requested or not conn.full_done) and not cursor.get("full"):
            cursor = {"full": True}  # a fresh full pass; `full` stays until it completes
        full = bool(cursor.get("full"))
        checks_due = (
            full
            or conn.owners_synced_at is None
            or (now - clock.as_utc(conn.owners_synced_at) >= OWNERS_EVERY)
        )
        deletions_due = (
            full
            or conn.deletions_checked_at is None
            or (now - clock.as_utc(conn.deletions_checked_at) >= DELETIONS_EVERY)
        )
    report = SyncReport(vendor, full)
    own = connector is None
    start_requests = connector.requests if connector is not None else 0
    deadline = time.monotonic() + budget_seconds if budget_seconds else None
    status = "ok"
    try:
        mapping = mapping_for(settings, vendor)
        if connector is None:
            connector = build_connector(settings, vendor, mapping, portal=portal)
        sync = _Sync(engine, team_id, vendor, conn_id, token, mapping, directory, report, now)
        sync.run(connector, cursor, checks_due, deletions_due, progress, deadline)
    except Fenced:
        log.info("crm sync for %s was taken over by another worker", team_id)
        return report
    except Paused:
        status = "partial"
    except (CrmError, MappingError) as exc:
        report.error = str(exc)
        status = "auth_failed" if isinstance(exc, CrmAuthError) else "error"
        log.warning("crm sync for %s stopped: %s", team_id, report.error.splitlines()[0])
    finally:
        if connector is not None:
            report.requests = connector.requests - start_requests
            if own:
                connector.close()
    _finish(engine, conn_id, token, now, settings, report, status=status, full=full)
    return report


def _finish(
    engine: Engine,
    conn_id: int,
    token: int,
    now: dt.datetime,
    settings: Settings,
    report: SyncReport,
    *,
    status: str,
    full: bool = False,
) -> None:
    interval = dt.timedelta(minutes=settings.crm_sync_minutes)
    values: dict[str, Any] = {
        "lease_until": None,
        "progress": dict(report.counts),
        "warnings": list(report.warnings),
    }
    if status == "ok":
        values.update(last_success_at=now, last_error=None, failures=0, next_sync_at=now + interval)
        if full:
            values.update(full_done=True, full_requested=False)
    elif status == "partial":
        values.update(next_sync_at=now)
    else:
        values.update(last_error=report.error, last_error_at=now)
    try:
        with session_scope(engine) as session:
            conn = session.get(CrmConnection, conn_id)
            if status not in {"ok", "partial"}:
                failures = (conn.failures if conn else 0) + 1
                values["failures"] = failures
                values["next_sync_at"] = now + min(interval, dt.timedelta(minutes=2**failures))
            if status == "ok" and conn is not None:
                cursor = dict(conn.cursor or {})
                cursor.pop("full", None)
                values["cursor"] = cursor
            t = CONN_TABLE
            done = move_rows(
                session,
                CONNECTION,
                SYNC_ACTION[status],
                t.c.id == conn_id,
                t.c.attempts == token,
                values=values,
            )
            if done != 1:
                raise Fenced(f"crm sync of connection {conn_id} was taken over")
    except Fenced:
        log.info("crm sync result not recorded: connection %s was taken over", conn_id)


def locate_finding(mapping: LocatedMapping, vendor: str, text: str) -> str:
    """A connector's finding about a mapped field ("company.arr: …"), at its mapping line."""
    head, _, rest = text.partition(":")
    parts = head.split(".")
    section = {"company": "company" if vendor == "hubspot" else "account"}
    path = (vendor, section.get(parts[0], parts[0]), *parts[1:])
    return str(mapping.problem(tuple(path), rest.strip()))


@dataclass
class _NewRecord:
    """A CRM record seen for the first time in this page (inserted in bulk)."""

    kind: str
    external_id: str
    modified_at: dt.datetime | None
    local_id: int | None = None
    label: str | None = None
    deleted_at: dt.datetime | None = None
    merged_into: str | None = None


class _Sync:
    """One run: owners, then companies, contacts and renewals, page by page."""

    def __init__(
        self,
        engine: Engine,
        team_id: str,
        vendor: str,
        conn_id: int,
        token: int,
        mapping: LocatedMapping,
        directory: Directory | None,
        report: SyncReport,
        now: dt.datetime,
    ) -> None:
        self.engine = engine
        self.team_id = team_id
        self.vendor = vendor
        self.conn_id = conn_id
        self.token = token
        self.vmap = mapping.config.for_vendor(vendor)
        self.mapping = mapping
        self.directory = directory
        self.report = report
        self.now = now
        self.owner_users: dict[str, str | None] = {}  # CRM owner id → Slack user id
        self.pending_merges: dict[str, list[str]] = {}  # survivor id → merged-away ids
        self.roles_seen: dict[str, str] = {}  # Slack user id → role the CRM implies
        self.owners_refreshed = False
        self.created: set[int] = set()  # accounts this run created (no change audit for them)
        self.by_crm: dict[str | None, Account] = {}  # this page's accounts by CRM id / domain
        self.by_domain: dict[str | None, Account] = {}
        self.unsettled: list[tuple[Account, CrmRecord, bool, dict[str, Any]]] = []
        self.new_records: list[_NewRecord] = []
        self.assigned: set[int] = set()  # accounts (object ids) a CRM company took this run

    # -- the run ---------------------------------------------------------------------------
    def run(
        self,
        connector: CrmConnector,
        cursor: dict[str, Any],
        checks_due: bool,
        deletions_due: bool,
        progress: Progress | None,
        deadline: float | None,
    ) -> None:
        if checks_due:
            missing: set[str] = set()
            for text in connector.check():
                self.report.warn(self._located(text))
                if " has no " in text:
                    missing.add(text.rsplit("'", 2)[-2])
            cursor["missing"] = sorted(missing)
        connector.drop_properties(set(cursor.get("missing") or ()))
        with session_scope(self.engine) as session:
            self.owner_users = self._known_owners(session)
            _fenced_update(
                session,
                self.conn_id,
                self.token,
                portal=connector.portal,
                cursor=dict(cursor),
            )
        if checks_due:
            self._sync_owners(connector.owners())
        for kind in ("company", "contact"):
            label = "companies" if kind == "company" else "contacts"
            if (cursor.get(kind) or {}).get("done_full"):
                continue
            for page in connector.changes(kind, _stream(cursor.get(kind)), self.now):
                if kind == "company":
                    self._unknown_owners(connector, page.records)
                self._write_page(kind, page, cursor)
                if progress:
                    progress(label, self.report.counts.get(label, 0))
                if deadline is not None and time.monotonic() > deadline:
                    raise Paused()
            if cursor.get("full"):
                cursor[kind] = {**(cursor.get(kind) or {}), "done_full": True}
        for page in connector.renewals(_stream(cursor.get("renewal")), self.now):
            self._write_page("renewal", page, cursor)
        if deletions_due:
            for kind in ("company", "contact"):
                for batch in connector.deletions(kind):
                    if batch:
                        self._write_page(kind, Page(batch, dict(cursor.get(kind) or {})), cursor)
            with session_scope(self.engine) as session:
                _fenced_update(session, self.conn_id, self.token, deletions_checked_at=self.now)
        for kind in ("company", "contact"):
            (cursor.get(kind) or {}).pop("done_full", None)
        with session_scope(self.engine) as session:
            _fenced_update(session, self.conn_id, self.token, cursor=dict(cursor))
        self._apply_roles()

    def _located(self, text: str) -> str:
        return locate_finding(self.mapping, self.vendor, text)

    def _write_page(self, kind: str, page: Page, cursor: dict[str, Any]) -> None:
        with session_scope(self.engine) as session:
            if kind == "company":
                self._apply_companies(session, page.records)
            elif kind == "contact":
                self._apply_contacts(session, page.records)
            else:
                self._apply_renewals(session, page.records)
            self._insert_new_records(session)
            cursor[kind] = page.cursor
            _fenced_update(
                session,
                self.conn_id,
                self.token,
                cursor=dict(cursor),
                progress=dict(self.report.counts),
                lease_until=max(self.now, clock.now()) + SYNC_LEASE,
            )

    # -- owners ----------------------------------------------------------------------------
    def _known_owners(self, session: Session) -> dict[str, str | None]:
        rows = session.exec(
            select(CrmRecord.external_id, Person.slack_user_id)
            .join(Person, col(Person.id) == CrmRecord.local_id, isouter=True)
            .where(
                CrmRecord.team_id == self.team_id,
                CrmRecord.vendor == self.vendor,
                CrmRecord.kind == "owner",
            )
        )
        return {ext: uid for ext, uid in rows}

    def _sync_owners(self, owners: Iterable[Owner]) -> None:
        with session_scope(self.engine) as session:
            records = self._records(session, "owner", None)
            for owner in owners:
                self.report.add("owners")
                person = None
                if owner.email:
                    person = person_by_email(session, self.team_id, owner.email, self.directory)
                if person is None:
                    self.report.warn(
                        f"{VENDOR_LABEL[self.vendor]} owner {owner.name or owner.id} "
                        f"({owner.email or 'no email'}) is not in this Slack workspace; "
                        "accounts they own get no CSM"
                    )
                rec = records.get(owner.id) or CrmRecord(
                    team_id=self.team_id, vendor=self.vendor, kind="owner", external_id=owner.id
                )
                rec.local_id = person.id if person else None
                rec.label = (owner.email or owner.name or owner.id)[:255]
                rec.synced_at = self.now
                session.add(rec)
                self.owner_users[owner.id] = person.slack_user_id if person else None
            _fenced_update(session, self.conn_id, self.token, owners_synced_at=self.now)

    def _unknown_owners(self, connector: CrmConnector, records: list[Record]) -> None:
        """An owner id we have never seen (a new CSM): refresh the owner list once."""
        props = [p for k, p in self.vmap.company.properties().items() if k in {"csm", "ae"}]
        unknown = {
            str(r.props.get(p))
            for r in records
            for p in props
            if r.props.get(p) and str(r.props.get(p)) not in self.owner_users
        }
        if unknown and not self.owners_refreshed:
            self.owners_refreshed = True
            self._sync_owners(connector.owners())

    def _apply_roles(self) -> None:
        """People the CRM names as CSM / AE get that role if we knew none for them."""
        if not self.roles_seen:
            return
        with session_scope(self.engine) as session:
            for person in session.exec(
                select(Person).where(
                    Person.team_id == self.team_id,
                    col(Person.slack_user_id).in_(list(self.roles_seen)),
                    Person.role == Role.OTHER,
                )
            ):
                person.role = self.roles_seen[person.slack_user_id]
                session.add(person)

    # -- records ---------------------------------------------------------------------------
    def _records(
        self, session: Session, kind: str, ids: Iterable[str] | None
    ) -> dict[str, CrmRecord]:
        stmt = select(CrmRecord).where(
            CrmRecord.team_id == self.team_id,
            CrmRecord.vendor == self.vendor,
            CrmRecord.kind == kind,
        )
        if ids is not None:
            id_list = list(set(ids))
            if not id_list:
                return {}
            stmt = stmt.where(col(CrmRecord.external_id).in_(id_list))
        return {r.external_id: r for r in session.exec(stmt)}

    def _record_row(
        self, session: Session, known: dict[str, CrmRecord], kind: str, record: Record
    ) -> CrmRecord:
        rec = known.get(record.id)
        if rec is None:
            new = _NewRecord(kind=kind, external_id=record.id, modified_at=record.modified_at)
            self.new_records.append(new)
            known[record.id] = new  # type: ignore[assignment]
            return new  # type: ignore[return-value]
        rec.modified_at = record.modified_at
        rec.synced_at = self.now
        session.add(rec)
        return rec

    def _insert_new_records(self, session: Session) -> None:
        """The page's first-seen CRM records in one INSERT (a first sync is mostly these)."""
        if not self.new_records:
            return
        session.flush()
        session.execute(
            sa.insert(CrmRecord),
            [
                {
                    "team_id": self.team_id,
                    "vendor": self.vendor,
                    "kind": n.kind,
                    "external_id": n.external_id,
                    "local_id": n.local_id,
                    "label": n.label,
                    "modified_at": n.modified_at,
                    "deleted_at": n.deleted_at,
                    "merged_into": n.merged_into,
                    "synced_at": self.now,
                }
                for n in self.new_records
            ],
        )
        self.new_records = []

    # -- companies -------------------------------------------------------------------------
    def _apply_companies(self, session: Session, records: list[Record]) -> None:
        ids = [r.id for r in records] + [m for r in records for m in r.merged_ids]
        ids += [r.merged_into for r in records if r.merged_into]
        known = self._records(session, "company", ids)
        accounts = self._accounts(session, [k.local_id for k in known.values() if k.local_id])
        # one query each for the page's CRM ids and domains, instead of one per record
        prop = self.vmap.company.properties().get("domain")
        domains = {normalise_domain(r.props.get(prop)) for r in records} if prop else set()
        base = select(Account).where(Account.team_id == self.team_id)
        self.by_crm = {
            a.crm_id: a for a in session.exec(base.where(col(Account.crm_id).in_(ids or ["-"])))
        }
        wanted = [d for d in domains if d] or ["-"]
        self.by_domain = {
            a.domain: a for a in session.exec(base.where(col(Account.domain).in_(wanted)))
        }
        self.assigned = set()  # in-page only: earlier pages' records are in the database
        for record in records:
            if record.deleted:
                self._settle_companies(session, accounts)
                self._company_deleted(session, known, accounts, record)
                continue
            self.report.add("companies")
            account = self._apply_company(session, known, accounts, record)
            losers = [*record.merged_ids, *self.pending_merges.pop(record.id, [])]
            if losers:
                self._settle_companies(session, accounts)
            for loser in losers:
                self._merge(session, known, accounts, loser, record.id, account)
        self._settle_companies(session, accounts)

    def _accounts(self, session: Session, ids: Iterable[int | None]) -> dict[int, Account]:
        wanted = [i for i in set(ids) if i]
        if not wanted:
            return {}
        return {
            a.id: a
            for a in session.exec(
                select(Account).where(Account.team_id == self.team_id, col(Account.id).in_(wanted))
            )
            if a.id is not None
        }

    def _apply_company(
        self,
        session: Session,
        known: dict[str, CrmRecord],
        accounts: dict[int, Account],
        record: Record,
    ) -> Account:
        label = VENDOR_LABEL[self.vendor]
        parsed = company_fields(self.vmap.company, record.props, self.now.date())
        for problem in parsed.problems:
            self.report.warn(f"{label} company {record.id}: {problem}")
        rec = known.get(record.id)
        account = accounts.get(rec.local_id) if rec and rec.local_id else None
        if account is None:
            account = self._adopt(session, record, parsed.values.get("domain"))
        created = account is None
        if account is None:
            account = Account(team_id=self.team_id, name="")
        before = {c: getattr(account, c) for c in AUDITED}
        values = dict(parsed.values)
        for role_field, role in (("csm", Role.CSM), ("ae", Role.ACCOUNT_EXECUTIVE)):
            if role_field not in self.vmap.company.properties():
                values.pop(role_field, None)
                continue
            owner_id = values.get(role_field)
            user = self.owner_users.get(str(owner_id)) if owner_id else None
            if owner_id and user is None:
                self.report.warn(
                    f"{label} company {record.id} ({values.get('name')}): {role_field.upper()} "
                    f"owner {owner_id} is not a Slack member; left empty"
                )
            if user:
                self.roles_seen.setdefault(user, role)
            values[role_field] = user
        domain = values.get("domain")
        if domain and domain != account.domain and self._domain_taken(session, domain, account):
            self.report.warn(
                f"{label} company {record.id} ({values.get('name')}): domain {domain} is already "
                "another account's; kept without a domain (merge the duplicates in the CRM)"
            )
            values["domain"] = None
        for name, value in values.items():  # a value that did not parse is absent: kept
            if name != "name" or value:
                setattr(account, ACCOUNT_COLUMN[name], value)
        if not account.name:
            account.name = f"({label} company {record.id})"
        if account.domain:
            self.by_domain[account.domain] = account
        account.crm_id = record.id
        account.updated_at = self.now
        session.add(account)
        self.by_crm[record.id] = account
        self.assigned.add(id(account))
        rec = self._record_row(session, known, "company", record)
        rec.label, rec.deleted_at, rec.merged_into = account.name[:255], None, None
        self.unsettled.append((account, rec, created, before))
        return account

    def _settle_companies(self, session: Session, accounts: dict[int, Account]) -> None:
        """One flush for the page's new accounts, then their ids, records and audit rows."""
        if not self.unsettled:
            return
        session.flush()
        actor = f"crm:{self.vendor}"
        for account, rec, created, before in self.unsettled:
            assert account.id is not None
            accounts[account.id] = account
            rec.local_id = account.id
            if created:
                self.created.add(account.id)
                self.report.add("accounts_created")
                audit.record(
                    session,
                    self.team_id,
                    actor,
                    "account",
                    account.id,
                    "crm_created",
                    name=account.name,
                    external_id=rec.external_id,
                    source=self.vendor,
                )
                continue
            for column in AUDITED:
                old, new = before[column], getattr(account, column)
                if old != new:
                    audit.record(
                        session,
                        self.team_id,
                        actor,
                        "account",
                        account.id,
                        "crm_field_changed",
                        field=column,
                        old=_s(old),
                        new=_s(new),
                        source=self.vendor,
                    )
        self.unsettled = []

    def _adopt(self, session: Session, record: Record, domain: str | None) -> Account | None:
        """An account we already had (CSV import) becomes this CRM company's: by CRM id,
        else by domain when no other live CRM company holds it."""
        hit = self.by_crm.get(record.id)
        if hit is None and domain:
            hit = self.by_domain.get(domain)
            if hit is not None and (
                id(hit) in self.assigned or self._owned_by_other(session, hit, record.id)
            ):
                return None  # another CRM company's account (a duplicate domain)
        return hit

    def _owned_by_other(self, session: Session, account: Account, external_id: str) -> bool:
        """Is this account already another live CRM company's? (A CSV account carrying an
        old export's crm_id is not: it is adopted.)"""
        if account.id is None:
            return False
        return (
            session.exec(
                select(CrmRecord.id).where(
                    CrmRecord.team_id == self.team_id,
                    CrmRecord.kind == "company",
                    CrmRecord.local_id == account.id,
                    CrmRecord.external_id != external_id,
                    col(CrmRecord.deleted_at).is_(None),
                )
            ).first()
            is not None
        )

    def _domain_taken(self, session: Session, domain: str, account: Account) -> bool:
        other = self.by_domain.get(domain)
        return other is not None and other is not account

    def _company_deleted(
        self,
        session: Session,
        known: dict[str, CrmRecord],
        accounts: dict[int, Account],
        record: Record,
    ) -> None:
        rec = known.get(record.id)
        if rec is None or rec.deleted_at is not None:
            return  # never synced (or already noted): nothing of ours to flag
        if record.merged_into:
            survivor = known.get(record.merged_into)
            target = accounts.get(survivor.local_id) if survivor and survivor.local_id else None
            if target is not None:
                self._merge(session, known, accounts, record.id, record.merged_into, target)
                return
            self.pending_merges.setdefault(record.merged_into, []).append(record.id)
        rec.deleted_at = self.now
        rec.merged_into = record.merged_into
        session.add(rec)
        self.report.add("deleted")
        audit.record(
            session,
            self.team_id,
            f"crm:{self.vendor}",
            "account",
            rec.local_id,
            "crm_deleted",
            external_id=record.id,
            source=self.vendor,
        )

    def _merge(
        self,
        session: Session,
        known: dict[str, CrmRecord],
        accounts: dict[int, Account],
        loser_id: str,
        survivor_id: str,
        survivor: Account,
    ) -> None:
        """A company merged into another: its contacts, calls, commitments and cases move
        to the surviving account; the old account row goes, its CRM record remembers."""
        if loser_id not in known:
            known.update(self._records(session, "company", [loser_id]))
        rec = known.get(loser_id)
        if rec is None or rec.merged_into == survivor_id:
            return
        loser = accounts.get(rec.local_id) if rec.local_id else None
        if loser is None and rec.local_id:
            loser = session.get(Account, rec.local_id)
        rec.merged_into, rec.deleted_at = survivor_id, self.now
        if isinstance(rec, CrmRecord):
            session.add(rec)
        self.report.add("merged")
        if loser is None or loser.id == survivor.id or loser.team_id != self.team_id:
            return
        from bot.models import Transcript

        for model in (Contact, Commitment, Transcript, Case):
            table = model.__table__  # type: ignore[union-attr]
            session.execute(
                sa.update(table)
                .where(table.c.team_id == self.team_id, table.c.account_id == loser.id)
                .values(account_id=survivor.id)
            )
        session.execute(
            sa.update(CrmRecord)
            .where(
                col(CrmRecord.team_id) == self.team_id,
                col(CrmRecord.kind) == "company",
                col(CrmRecord.local_id) == loser.id,
            )
            .values(local_id=survivor.id)
        )
        audit.record(
            session,
            self.team_id,
            f"crm:{self.vendor}",
            "account",
            loser.id,
            "crm_merged",
            into=survivor.id,
            external_id=loser_id,
            source=self.vendor,
            name=loser.name,
        )
        accounts.pop(loser.id or 0, None)
        session.flush()
        session.delete(loser)
        session.flush()

    # -- contacts --------------------------------------------------------------------------
    def _apply_contacts(self, session: Session, records: list[Record]) -> None:
        label = VENDOR_LABEL[self.vendor]
        known = self._records(
            session, "contact", [r.id for r in records] + [m for r in records for m in r.merged_ids]
        )
        companies = self._records(
            session, "company", [r.company_id for r in records if r.company_id]
        )
        contacts = {
            c.id: c
            for c in session.exec(
                select(Contact).where(
                    Contact.team_id == self.team_id,
                    col(Contact.id).in_([k.local_id for k in known.values() if k.local_id] or [-1]),
                )
            )
        }
        touched: set[int | None] = {c.account_id for c in contacts.values()}
        touched |= {
            companies[r.company_id].local_id
            for r in records
            if r.company_id in companies and companies[r.company_id].local_id
        }
        before = _champions(session, self.team_id, touched)
        emails = [
            str(r.props.get("email") or r.props.get("Email") or "").strip().lower() for r in records
        ]
        by_email = {
            (c.account_id, c.email): c
            for c in session.exec(
                select(Contact).where(
                    Contact.team_id == self.team_id,
                    col(Contact.email).in_([e for e in emails if e] or ["-"]),
                )
            )
        }
        fresh: list[tuple[CrmRecord, dict[str, Any]]] = []
        for record in records:
            rec = known.get(record.id)
            local = contacts.get(rec.local_id) if rec and rec.local_id else None
            for merged in record.merged_ids:
                gone = known.get(merged)
                if gone and gone.local_id and gone.local_id in contacts:
                    session.delete(contacts.pop(gone.local_id))
                    gone.local_id, gone.merged_into, gone.deleted_at = None, record.id, self.now
                    session.add(gone)
            if record.deleted:
                if rec is not None and rec.deleted_at is None:
                    if local is not None:
                        session.delete(local)
                    rec.local_id, rec.deleted_at = None, self.now
                    rec.merged_into = record.merged_into
                    session.add(rec)
                    self.report.add("deleted")
                continue
            self.report.add("contacts")
            company = companies.get(record.company_id or "")
            if company is None or not company.local_id or company.deleted_at is not None:
                self.report.add("contacts_without_company")
                if local is not None:  # moved to a company we do not have
                    session.delete(local)
                    if rec is not None:
                        rec.local_id = None
                        session.add(rec)
                continue
            p = record.props
            email = (p.get("email") or p.get("Email") or "").strip().lower() or None
            first, last = (
                p.get("firstname", p.get("FirstName")),
                p.get("lastname", p.get("LastName")),
            )
            title = p.get("jobtitle", p.get("Title"))
            if local is None and email:
                local = by_email.get((company.local_id, email))
            values: dict[str, Any] = {
                "account_id": company.local_id,
                "name": full_name(first, last, email)[:200],
                "email": email,
                "title": str(title)[:200] if title else None,
                "role": contact_role(self.vmap.contact, p),
            }
            rec = self._record_row(session, known, "contact", record)
            rec.label, rec.deleted_at = (email or values["name"])[:255], None
            if local is None:
                fresh.append((rec, {"team_id": self.team_id, "created_at": self.now, **values}))
            else:
                for k, v in values.items():
                    setattr(local, k, v)
                session.add(local)
                rec.local_id = local.id
            touched.add(company.local_id)
            if email is None:
                self.report.warn(f"{label} contact {record.id} ({values['name']}) has no email")
        session.flush()
        if fresh:  # one INSERT … RETURNING for the page's new contacts
            ids = session.execute(
                sa.insert(CONTACT_TABLE).returning(
                    CONTACT_TABLE.c.id, sort_by_parameter_order=True
                ),
                [row for _, row in fresh],
            ).scalars()
            for (rec, _), new_id in zip(fresh, ids, strict=True):
                rec.local_id = new_id
        after = _champions(session, self.team_id, touched)
        for account_id in sorted(a for a in touched if a and a not in self.created):
            if before.get(account_id) != after.get(account_id):
                audit.record(
                    session,
                    self.team_id,
                    f"crm:{self.vendor}",
                    "account",
                    account_id,
                    "crm_field_changed",
                    field="champion",
                    old=before.get(account_id),
                    new=after.get(account_id),
                    source=self.vendor,
                )

    # -- renewals (Salesforce Opportunities) --------------------------------------------------
    def _apply_renewals(self, session: Session, records: list[Record]) -> None:
        from bot.crm.mapping import parse_date

        known = self._records(session, "company", [r.id for r in records])
        accounts = self._accounts(session, [k.local_id for k in known.values()])
        for record in records:
            rec = known.get(record.id)
            account = accounts.get(rec.local_id) if rec and rec.local_id else None
            if account is None:
                continue
            raw = record.props.get("renewal_date")
            new = parse_date(raw) if raw else None
            if new != account.renewal_date:
                audit.record(
                    session,
                    self.team_id,
                    f"crm:{self.vendor}",
                    "account",
                    account.id,
                    "crm_field_changed",
                    field="renewal_date",
                    old=_s(account.renewal_date),
                    new=_s(new),
                    source=self.vendor,
                )
                account.renewal_date = new
                account.updated_at = self.now
                session.add(account)
            self.report.add("renewals")


def _stream(cursor: dict[str, Any] | None) -> dict[str, Any]:
    """One object's cursor as the connector wants it (without our bookkeeping keys)."""
    return {k: v for k, v in (cursor or {}).items() if k != "done_full"}


def _s(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _champions(session: Session, team_id: str, account_ids: Iterable[int | None]) -> dict[int, str]:
    ids = [a for a in set(account_ids) if a]
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    for c in session.exec(
        select(Contact).where(
            Contact.team_id == team_id,
            col(Contact.account_id).in_(ids),
            Contact.role == "champion",
        )
    ):
        found.setdefault(c.account_id, []).append(c.email or c.name)
    return {a: ", ".join(sorted(v)) for a, v in found.items()}


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


# --- write-back: the sender ---------------------------------------------------------------------

WRITE_LEASE = dt.timedelta(minutes=5)
NOTIFY_AFTER = 5  # failed attempts before the CSM is told (the row keeps retrying)
MAX_BACKOFF = dt.timedelta(minutes=30)
WRITE_BATCH = 50


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
                    connector.create_task(spec)  # type: ignore[arg-type]
                    if kind == "task"
                    else connector.create_note(spec)  # type: ignore[arg-type]
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
            connector.update_task(remote.id, spec)  # type: ignore[arg-type]
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
