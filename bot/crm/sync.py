"""The CRM sync (CRM → accounts, contacts, people).

One `crm_connection` row per workspace is the job: a sync claims it (lease + token), reads each
object's changes page by page, and writes every page *with the cursor that follows it* in one
transaction fenced by the token. A sync that dies, is refused its token or loses its lease
keeps everything up to its last page and resumes exactly there. The CRM owns the fields it
provides (see the README): the sync overwrites them, a CSV import leaves them alone. A change
to an account's CSM, AE, ARR, renewal date or champion is audited as `crm_field_changed`: the
signals read them as risk signals.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    Owner,
    Page,
    Record,
)
from bot.crm.mapping import (
    ACCOUNT_COLUMN,
    LocatedMapping,
    MappingError,
    company_fields,
    contact_role,
    full_name,
    normalise_domain,
)
from bot.crm.service import (
    CONN_TABLE,
    CONNECTION,
    SYNC_LEASE,
    VENDOR_LABEL,
    Fenced,
    Progress,
    _fenced_update,
    build_connector,
    claim_sync,
    ensure_connection,
    get_connection,
    mapping_for,
)
from bot.db import session_scope
from bot.models import (
    Account,
    Case,
    Commitment,
    Contact,
    CrmConnection,
    CrmRecord,
    Person,
    Role,
)
from bot.people.service import Directory, person_by_email
from bot.states import move_rows

log = logging.getLogger(__name__)


OWNERS_EVERY = dt.timedelta(hours=1)


DELETIONS_EVERY = dt.timedelta(hours=6)


MAX_WARNINGS = 50


AUDITED = ("csm_user_id", "ae_user_id", "renewal_date", "arr")


CONTACT_TABLE = Contact.__table__  # type: ignore[attr-defined]


SYNC_ACTION = {"ok": "succeed", "partial": "pause", "error": "fail", "auth_failed": "refuse"}


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
