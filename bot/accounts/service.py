"""Accounts and contacts: CSV import (so a team can start before any CRM connector) and search.

Accounts CSV columns (header row required, case-insensitive, order free):
    name (required), domain, crm_id, csm_email, ae_email, arr, renewal_date (YYYY-MM-DD),
    tier, slack_channel (the account's Slack channel id, C…), notes
Upsert key: `crm_id` when given, else `domain`. A row with neither is added by name once.

Contacts CSV columns:
    account (account domain, CRM id or exact name; required), name (required), email, title,
    role (champion, economic_buyer, new_point_of_contact, executive_sponsor, admin, user …)

People CSV columns (your CS team's roster, for roles and managers Slack does not know):
    email (required; must be a Slack member), role (csm, cs_manager, account_executive,
    support_lead, exec_sponsor, other), manager_email, admin (yes/no)

Valid rows are written in one transaction; every bad row is reported with its line number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from bot import audit, clock
from bot.crm.service import owned_fields, picker_description
from bot.db import session_scope
from bot.models import Account, Contact
from bot.people.service import EMAIL_RE, Directory, person_by_email

ACCOUNT_COLUMNS = (
    "name",
    "domain",
    "crm_id",
    "csm_email",
    "ae_email",
    "arr",
    "renewal_date",
    "tier",
    "slack_channel",
    "notes",
)
CONTACT_COLUMNS = ("account", "name", "email", "title", "role")
DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9-]+\.)+[a-z]{2,}$")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.created} created, {self.updated} updated, {len(self.skipped)} skipped"]
        out += [f"  line {n}: skipped — {why}" for n, why in self.skipped]
        out += [f"  line {n}: warning — {why}" for n, why in self.warnings]
        return out


class ImportError_(ValueError):
    """The file as a whole cannot be imported (no header, missing required columns)."""


def _rows(data: bytes, required: tuple[str, ...], known: tuple[str, ...]):
    """Yield (line_number, row dict or None, problem) — undecodable rows are reported, not lost."""
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ImportError_("the file is empty or has no header row")
    header = [(h or "").strip().lower() for h in reader.fieldnames]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportError_(
            f"missing required column(s): {', '.join(missing)} (columns: {', '.join(known)})"
        )
    reader.fieldnames = header
    for raw in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in raw.items() if k}
        if any(_has_bad_bytes(v) for v in values.values()):
            yield line, None, "not valid UTF-8 text (save the CSV as UTF-8)"
            continue
        if None in raw:
            yield line, None, "more values than header columns"
            continue
        yield line, values, None


def _has_bad_bytes(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _parse_arr(value: str) -> float | None:
    if not value:
        return None
    cleaned = re.sub(r"[,$€£\s]", "", value)
    mult = 1.0
    if cleaned[-1:].lower() in {"k", "m"}:
        mult = 1_000.0 if cleaned[-1].lower() == "k" else 1_000_000.0
        cleaned = cleaned[:-1]
    try:
        return float(cleaned) * mult
    except ValueError as exc:
        raise ValueError(f"ARR '{value}' is not a number") from exc


def _parse_date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"renewal_date '{value}' is not a date like 2027-03-31") from exc


def import_accounts(
    session: Session,
    team_id: str,
    data: bytes,
    directory: Directory | None = None,
    actor: str = "cli",
) -> ImportReport:
    report = ImportReport()
    seen: dict[str, int] = {}
    for line, row, problem in _rows(data, ("name",), ACCOUNT_COLUMNS):
        if row is None:
            report.skipped.append((line, problem or "unreadable"))
            continue
        try:
            fields = _account_fields(row)
        except ValueError as exc:
            report.skipped.append((line, str(exc)))
            continue
        key = (
            f"crm:{fields['crm_id']}"
            if fields["crm_id"]
            else (
                f"domain:{fields['domain']}"
                if fields["domain"]
                else f"name:{fields['name'].lower()}"
            )
        )
        if key in seen:
            report.skipped.append((line, f"duplicate of line {seen[key]} ({key.split(':', 1)[1]})"))
            continue
        seen[key] = line
        for role_col, attr in (("csm_email", "csm_user_id"), ("ae_email", "ae_user_id")):
            email = row.get(role_col, "")
            fields[attr] = None
            if email:
                person = person_by_email(session, team_id, email, directory)
                if person is None:
                    why = (
                        "is not a Slack member"
                        if directory is not None
                        else "was not looked up (Slack is not connected: import again once "
                        "SLACK_BOT_TOKEN is set)"
                    )
                    report.warnings.append((line, f"{role_col} {email} {why}; left empty"))
                else:
                    fields[attr] = person.slack_user_id
        account = _find_account(session, team_id, fields)
        if account is None:
            account = Account(team_id=team_id, **fields)
            session.add(account)
            session.flush()
            report.created += 1
            audit.record(
                session, team_id, actor, "account", account.id, "imported", name=account.name
            )
        else:
            owned = owned_fields(session, team_id, account.id)
            kept = []
            for k, v in fields.items():
                if v is not None and v != "":
                    if owned and k in owned[1]:
                        if getattr(account, k) != v:
                            kept.append(k)
                        continue  # the CRM owns this field; the next sync would undo it
                    setattr(account, k, v)
            if owned and kept:
                report.warnings.append(
                    (
                        line,
                        f"{', '.join(kept)} of {account.name} come from {owned[0]}; kept the "
                        f"CRM's values (change them in {owned[0]})",
                    )
                )
            account.updated_at = clock.now()
            session.add(account)
            report.updated += 1
            audit.record(
                session, team_id, actor, "account", account.id, "updated", name=account.name
            )
    session.flush()
    return report


def _account_fields(row: dict[str, str]) -> dict:
    name = row.get("name", "")
    if not name:
        raise ValueError("name is empty")
    domain = row.get("domain", "").lower().removeprefix("https://").removeprefix("www.").strip("/")
    if domain and not DOMAIN_RE.match(domain):
        raise ValueError(f"domain '{row['domain']}' is not a domain like acme.com")
    for role_col in ("csm_email", "ae_email"):
        email = row.get(role_col, "")
        if email and not EMAIL_RE.match(email):
            raise ValueError(f"{role_col} '{email}' is not an email address")
    channel = row.get("slack_channel", "") or None
    if channel and not re.fullmatch(r"[CG][A-Z0-9]{6,}", channel):
        raise ValueError(
            f"slack_channel '{channel}' is not a channel id like C0123ABCD "
            "(right-click the channel → Copy link; the id ends the link)"
        )
    return {
        "name": name[:200],
        "domain": domain or None,
        "crm_id": row.get("crm_id") or None,
        "arr": _parse_arr(row.get("arr", "")),
        "renewal_date": _parse_date(row.get("renewal_date", "")),
        "tier": row.get("tier") or None,
        "slack_channel_id": channel,
        "notes": row.get("notes") or None,
    }


def _find_account(session: Session, team_id: str, fields: dict) -> Account | None:
    stmt = select(Account).where(Account.team_id == team_id)
    if fields.get("crm_id"):
        hit = session.exec(stmt.where(Account.crm_id == fields["crm_id"])).first()
        if hit:
            return hit
    if fields.get("domain"):
        hit = session.exec(stmt.where(Account.domain == fields["domain"])).first()
        if hit:
            return hit
    if not fields.get("crm_id") and not fields.get("domain"):
        return session.exec(stmt.where(func.lower(Account.name) == fields["name"].lower())).first()
    return None


def import_contacts(
    session: Session, team_id: str, data: bytes, actor: str = "cli"
) -> ImportReport:
    report = ImportReport()
    seen: dict[tuple[int, str], int] = {}
    for line, row, problem in _rows(data, ("account", "name"), CONTACT_COLUMNS):
        if row is None:
            report.skipped.append((line, problem or "unreadable"))
            continue
        account = find_account(session, team_id, row.get("account", ""))
        if account is None:
            report.skipped.append((line, f"no account matches '{row.get('account', '')}'"))
            continue
        if not row.get("name"):
            report.skipped.append((line, "name is empty"))
            continue
        email = row.get("email", "").lower()
        if email and not EMAIL_RE.match(email):
            report.skipped.append((line, f"email '{email}' is not an email address"))
            continue
        key = (account.id or 0, email or row["name"].lower())
        if key in seen:
            report.skipped.append((line, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        role = re.sub(r"[\s-]+", "_", row.get("role", "").strip().lower()) or None
        existing = session.exec(
            select(Contact).where(
                Contact.team_id == team_id,
                Contact.account_id == account.id,
                (Contact.email == email) if email else (Contact.name == row["name"]),
            )
        ).first()
        if existing:
            existing.name, existing.title = row["name"], row.get("title") or existing.title
            existing.role = role or existing.role
            session.add(existing)
            report.updated += 1
        else:
            contact = Contact(
                team_id=team_id,
                account_id=account.id or 0,
                name=row["name"],
                email=email or None,
                title=row.get("title") or None,
                role=role,
            )
            session.add(contact)
            report.created += 1
    session.flush()
    return report


def find_account(session: Session, team_id: str, text: str) -> Account | None:
    """An account by CRM id, domain or name (exact, case-insensitive), in that order, else a
    unique prefix/substring match. The exact forms are one query on indexes (the CRM id and
    domain keys, `ix_account_name_ci` on lower(name)), so the common case never scans."""
    ref = account_ref(session, team_id, text)
    return session.get(Account, ref[0]) if ref is not None else None


_c = Account.__table__.c  # type: ignore[attr-defined]
# Built once: every /report-risk with a name asks, and building the statement costs more
# CPU than PostgreSQL's answer (bound parameters keep it one cached compilation).
_ACCOUNT_REF = (
    sa.select(_c.id, _c.name, _c.crm_id, _c.domain)
    .where(
        _c.team_id == sa.bindparam("team"),
        or_(
            _c.crm_id == sa.bindparam("text"),
            _c.domain == sa.bindparam("low"),
            func.lower(_c.name) == sa.bindparam("low"),
        ),
    )
    .limit(10)
)


def account_ref(db: Session | sa.Connection, team_id: str, text: str) -> tuple[int, str] | None:
    """(id, name) of the account `text` names (see `find_account`): the exact forms read four
    columns, not the whole row, on a session or a bare connection (the ack path's read)."""
    text = (text or "").strip()
    if not text:
        return None
    low = text.lower()
    hits = db.execute(_ACCOUNT_REF, {"team": team_id, "text": text, "low": low}).all()
    for exact in (
        lambda h: h.crm_id == text,
        lambda h: h.domain == low,
        lambda h: h.name.lower() == low,
    ):
        hit = next((h for h in hits if exact(h)), None)
        if hit is not None:
            return int(hit.id), str(hit.name)
    if isinstance(db, Session):
        found = search_accounts(db, team_id, text, limit=2)
    else:
        with Session(bind=db) as session:
            found = search_accounts(session, team_id, text, limit=2)
    return (found[0].id or 0, found[0].name) if len(found) == 1 else None


def search_accounts(session: Session, team_id: str, query: str, limit: int = 100) -> list[Account]:
    """Accounts whose name or domain contains the query, names starting with it first."""
    query = (query or "").strip().lower()
    stmt = select(Account).where(Account.team_id == team_id)
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(func.lower(Account.name).like(like), func.lower(col(Account.domain)).like(like))
        )
    rows = list(session.exec(stmt.order_by(Account.name).limit(500)))
    rows.sort(key=lambda a: (not a.name.lower().startswith(query), a.name.lower()))
    return rows[:limit]


def account_options(
    engine: Engine, team_id: str, query: str, limit: int = 100
) -> list[tuple[int, str, str | None]]:
    """(id, name, second line) of the accounts a picker offers for what the person typed;
    the second line shows the CRM's facts (CSM, ARR, renewal), else the domain."""
    with session_scope(engine) as session:
        return [
            (a.id or 0, a.name, picker_description(session, a))
            for a in search_accounts(session, team_id, query, limit)
        ]


def contacts_by_role(session: Session, team_id: str, account_id: int) -> dict[str, list[Contact]]:
    out: dict[str, list[Contact]] = {}
    for c in session.exec(
        select(Contact).where(Contact.team_id == team_id, Contact.account_id == account_id)
    ):
        out.setdefault(c.role or "contact", []).append(c)
    return out


PEOPLE_COLUMNS = ("email", "role", "manager_email", "admin")


def people_rows(data: bytes) -> list[tuple[int, dict[str, str] | None, str | None]]:
    """The roster's rows as (line, row or None, problem), without touching the database
    (`followthrough doctor --people` checks them against Slack)."""
    return list(_rows(data, ("email",), PEOPLE_COLUMNS))


def import_people(
    session: Session,
    team_id: str,
    data: bytes,
    directory: Directory | None = None,
    actor: str = "cli",
) -> ImportReport:
    """Roles, managers and admins for Slack members (the case planner routes steps by them)."""
    from bot.models import Role

    report = ImportReport()
    roles = {r.value for r in Role}
    for line, row, problem in _rows(data, ("email",), PEOPLE_COLUMNS):
        if row is None:
            report.skipped.append((line, problem or "unreadable"))
            continue
        email = row["email"].lower()
        role = re.sub(r"[\s-]+", "_", row.get("role", "").lower()) or None
        if not EMAIL_RE.match(email):
            report.skipped.append((line, f"email '{email}' is not an email address"))
            continue
        if role and role not in roles:
            report.skipped.append((line, f"role '{role}' is not one of {', '.join(sorted(roles))}"))
            continue
        person = person_by_email(session, team_id, email, directory)
        if person is None:
            report.skipped.append((line, f"{email} is not a member of this Slack workspace"))
            continue
        manager_email = row.get("manager_email", "").lower()
        if manager_email:
            manager = person_by_email(session, team_id, manager_email, directory)
            if manager is None:
                report.warnings.append((line, f"manager {manager_email} is not a Slack member"))
            else:
                person.manager_user_id = manager.slack_user_id
        if role:
            person.role = role
        if row.get("admin"):
            person.is_admin = row["admin"].strip().lower() in {"yes", "y", "true", "1"}
        session.add(person)
        report.updated += 1
        audit.record(
            session,
            team_id,
            actor,
            "person",
            person.id,
            "roster_updated",
            role=person.role,
            manager=person.manager_user_id,
            admin=person.is_admin,
        )
    session.flush()
    return report
