"""Salesforce REST + SOQL: Account, Contact, User, the renewal from Opportunity (or a field);
Tasks written back (a closed case becomes a completed Task, since legacy Notes cannot
carry an External ID field).

Incremental reads use `queryAll` (so deleted and merged rows come in the same stream, with
`IsDeleted` and `MasterRecordId`) ordered by `SystemModstamp, Id`; the cursor is the last
(SystemModstamp, Id) stored, so a stopped sync resumes right after the last page it kept.
Auth is the OAuth 2.0 JWT bearer flow or a refresh token; the instance URL comes from the
token answer. `simple-salesforce` hard-codes https, so this is a thin httpx client.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bot.crm.connector import (
    CrmAuthError,
    CrmError,
    NoteSpec,
    Owner,
    Page,
    Record,
    Remote,
    TaskSpec,
)
from bot.crm.http import CrmHttp, json_body
from bot.crm.mapping import FIELD_KINDS, SalesforceMap

OBJECTS = {"company": "Account", "contact": "Contact"}
SYNC_FIELDS = ("Id", "IsDeleted", "MasterRecordId", "SystemModstamp")
CONTACT_FIELDS = ("AccountId", "FirstName", "LastName", "Email", "Title")
TASK_STATUS = {"open": "Not Started", "done": "Completed", "deferred": "Deferred"}
FIELD_TYPES = {
    "number": {"currency", "double", "int", "percent"},
    "date": {"date", "datetime"},
    "owner": {"reference"},
}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _soql_ts(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_ts(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if text.endswith("+0000"):
        text = text[:-5] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


class SalesforceConnector:
    vendor = "salesforce"

    def __init__(
        self,
        mapping: SalesforceMap,
        *,
        login_url: str,
        client_id: str | None,
        username: str | None = None,
        private_key_file: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        api_version: str = "59.0",
        timeout: float = 30.0,
        backoff: float = 1.0,
        attempts: int = 8,
    ) -> None:
        jwt_ok = bool(client_id and username and private_key_file)
        refresh_ok = bool(client_id and client_secret and refresh_token)
        if not (jwt_ok or refresh_ok):
            raise CrmAuthError(
                "Salesforce needs SALESFORCE_CLIENT_ID with SALESFORCE_USERNAME and "
                "SALESFORCE_PRIVATE_KEY_FILE (JWT bearer), or with SALESFORCE_CLIENT_SECRET "
                "and SALESFORCE_REFRESH_TOKEN (refresh-token flow)"
            )
        self.mapping = mapping
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.username = username
        self.private_key_file = private_key_file
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.version = api_version
        self.instance_url: str | None = None
        self._token: str | None = None
        self.http = CrmHttp(
            "Salesforce",
            timeout=timeout,
            reauth=self._login,
            headers=self._headers,
            classify=_classify,
            backoff=backoff,
            attempts=attempts,
        )

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def portal(self) -> str | None:
        return self.instance_url

    # -- auth ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._login()
        return {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}

    def _login(self) -> None:
        if self.private_key_file and self.username:
            data = {"grant_type": JWT_GRANT, "assertion": self._assertion()}
        else:
            data = {
                "grant_type": "refresh_token",
                "client_id": self.client_id or "",
                "client_secret": self.client_secret or "",
                "refresh_token": self.refresh_token or "",
            }
        try:
            response = self.http.client.post(f"{self.login_url}/services/oauth2/token", data=data)
        except httpx.HTTPError as exc:
            raise CrmError(
                f"Salesforce login unreachable ({type(exc).__name__})", retryable=True
            ) from None
        self.http.requests += 1
        if response.status_code != 200:
            try:
                why = response.json().get("error_description") or response.json().get("error")
            except ValueError:
                why = f"HTTP {response.status_code}"
            if response.status_code >= 500:
                raise CrmError(f"Salesforce login failed: {why}", retryable=True)
            raise CrmAuthError(f"Salesforce refused the login ({why}); reconnect Salesforce")
        body = json_body(response)
        self._token = body["access_token"]
        self.instance_url = str(body["instance_url"]).rstrip("/")

    def _assertion(self) -> str:
        import jwt  # PyJWT; only the JWT bearer flow needs it

        try:
            key = Path(self.private_key_file or "").read_text()
        except OSError as exc:
            raise CrmAuthError(
                f"cannot read SALESFORCE_PRIVATE_KEY_FILE ({exc.strerror})"
            ) from None
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.login_url,
            "exp": int(time.time()) + 180,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    def _base(self) -> str:
        if self.instance_url is None:
            self._login()
        return f"{self.instance_url}/services/data/v{self.version}"

    def _get(self, path: str, **kw: Any) -> Any:
        url = path if path.startswith("http") else f"{self._base()}{path}"
        return json_body(self.http.call("GET", url, **kw))

    def query(self, soql: str, *, all_rows: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Batches of up to 2,000 rows, following `nextRecordsUrl` until `done`."""
        body = self._get("/queryAll/" if all_rows else "/query/", params={"q": soql})
        while True:
            yield body.get("records", [])
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            body = self._get(f"{self.instance_url}{body['nextRecordsUrl']}")

    # -- checks ----------------------------------------------------------------------------
    def check(self) -> list[str]:
        found: list[str] = []
        fields = self._describe("Account")
        for name, field in self.mapping.account.properties().items():
            if field not in fields:
                found.append(f"account.{name}: Salesforce Account has no field '{field}'")
                continue
            wanted = FIELD_TYPES.get(FIELD_KINDS[name])
            if wanted and fields[field] not in wanted:
                found.append(
                    f"account.{name}: Account.{field} is of type {fields[field]}; {name} needs "
                    f"{' or '.join(sorted(wanted))} (values that do not parse are skipped)"
                )
        if self.mapping.contact.role and self.mapping.contact.role not in self._describe("Contact"):
            found.append(
                f"contact.role: Salesforce Contact has no field '{self.mapping.contact.role}'"
            )
        if self.mapping.external_id not in self._describe("Task"):
            found.append(
                f"external_id: Task has no field '{self.mapping.external_id}'; create it as a "
                "Text External ID (Unique) field, or write-back cannot run"
            )
        return found

    def _describe(self, sobject: str) -> dict[str, str]:
        body = self._get(f"/sobjects/{sobject}/describe/")
        return {f["name"]: f.get("type", "string") for f in body.get("fields", [])}

    def drop_properties(self, names: set[str]) -> None:
        account = self.mapping.account
        for field in FIELD_KINDS:
            value = getattr(account, field)
            if isinstance(value, str) and value in names:
                setattr(account, field, None)
        if self.mapping.contact.role in names:
            self.mapping.contact.role = None

    # -- reads -----------------------------------------------------------------------------
    def owners(self) -> Iterator[Owner]:
        for batch in self.query("SELECT Id, Email, Name, IsActive FROM User"):
            for u in batch:
                yield Owner(str(u["Id"]), u.get("Email"), u.get("Name"), bool(u.get("IsActive")))

    def _fields(self, kind: str) -> list[str]:
        if kind == "company":
            mapped = list(self.mapping.account.properties().values())
            return list(dict.fromkeys([*SYNC_FIELDS, *mapped]))
        role = [self.mapping.contact.role] if self.mapping.contact.role else []
        return list(dict.fromkeys([*SYNC_FIELDS, *CONTACT_FIELDS, *role]))

    def changes(self, kind: str, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        sobject = OBJECTS[kind]
        where = _after(cursor)
        if not cursor:
            where = "WHERE IsDeleted = false"
        soql = (
            f"SELECT {', '.join(self._fields(kind))} FROM {sobject} {where} "
            "ORDER BY SystemModstamp, Id"
        )
        for batch in self.query(soql, all_rows=bool(cursor)):
            records = [self._record(kind, row) for row in batch]
            if batch:
                last = batch[-1]
                cursor = {"ts": last["SystemModstamp"], "id": last["Id"]}
            yield Page(records, dict(cursor))

    def _record(self, kind: str, row: dict[str, Any]) -> Record:
        props = {k: v for k, v in row.items() if k != "attributes"}
        deleted = bool(row.get("IsDeleted"))
        return Record(
            id=str(row["Id"]),
            props=props,
            modified_at=_parse_ts(row.get("SystemModstamp")),
            company_id=row.get("AccountId") if kind == "contact" else None,
            deleted=deleted,
            merged_into=row.get("MasterRecordId") if deleted else None,
        )

    def renewals(self, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        """Accounts whose renewal Opportunities changed → the earliest open one's CloseDate."""
        kind = self.mapping.account.renewal_opportunity_type
        if not kind:
            return
        where = _after(cursor)
        where = f"{where} AND" if where else "WHERE"
        soql = (
            f"SELECT Id, AccountId, SystemModstamp FROM Opportunity {where} "
            f"Type = {soql_quote(kind)} ORDER BY SystemModstamp, Id"
        )
        for batch in self.query(soql, all_rows=True):
            if not batch:
                yield Page([], dict(cursor))
                continue
            accounts = sorted({str(r["AccountId"]) for r in batch if r.get("AccountId")})
            earliest: dict[str, Any] = {a: None for a in accounts}
            if accounts:
                ids = ", ".join(soql_quote(a) for a in accounts)
                for rows in self.query(
                    f"SELECT AccountId, CloseDate FROM Opportunity WHERE Type = {soql_quote(kind)}"
                    f" AND IsClosed = false AND AccountId IN ({ids}) ORDER BY CloseDate"
                ):
                    for row in rows:
                        if earliest.get(row["AccountId"]) is None:
                            earliest[row["AccountId"]] = row["CloseDate"]
            last = batch[-1]
            cursor = {"ts": last["SystemModstamp"], "id": last["Id"]}
            records = [Record(a, {"renewal_date": d}) for a, d in earliest.items()]
            yield Page(records, dict(cursor))

    def deletions(self, kind: str) -> Iterator[list[Record]]:
        return iter(())  # queryAll brings deletions in the change stream

    # -- writes ----------------------------------------------------------------------------
    def find(self, kind: str, key: str) -> Remote | None:
        soql = f"SELECT Id, Status FROM Task WHERE {self.mapping.external_id} = {soql_quote(key)}"
        for batch in self.query(soql):
            for row in batch:
                return Remote(str(row["Id"]), row.get("Status"))
        return None

    def _task_body(self, spec: TaskSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Subject": spec.subject[:255],
            "Description": spec.body[:32_000],
            "ActivityDate": spec.due.isoformat(),
            "Status": TASK_STATUS[spec.status],
            "Priority": "Normal",
        }
        if spec.owner_id:
            body["OwnerId"] = spec.owner_id
        if spec.company_id:
            body["WhatId"] = spec.company_id
        if spec.contact_id:
            body["WhoId"] = spec.contact_id
        return body

    def create_task(self, spec: TaskSpec) -> Remote:
        body = {**self._task_body(spec), self.mapping.external_id: spec.key}
        response = self.http.call("POST", f"{self._base()}/sobjects/Task/", json=body, once=True)
        return Remote(str(json_body(response)["id"]), body["Status"])

    def update_task(self, task_id: str, spec: TaskSpec) -> None:
        body = self._task_body(spec)
        body.pop("WhatId", None)
        body.pop("WhoId", None)
        self.http.call("PATCH", f"{self._base()}/sobjects/Task/{task_id}", json=body)

    def create_note(self, spec: NoteSpec) -> Remote:
        body: dict[str, Any] = {
            "Subject": spec.title[:255],
            "Description": spec.body[:32_000],
            "ActivityDate": spec.at.date().isoformat(),
            "Status": "Completed",
            "WhatId": spec.company_id,
            self.mapping.external_id: spec.key,
        }
        if spec.owner_id:
            body["OwnerId"] = spec.owner_id
        response = self.http.call("POST", f"{self._base()}/sobjects/Task/", json=body, once=True)
        return Remote(str(json_body(response)["id"]))

    def close(self) -> None:
        self.http.close()


def _after(cursor: dict[str, Any]) -> str:
    if not cursor.get("ts"):
        return ""
    ts = _parse_ts(cursor["ts"])
    literal = _soql_ts(ts) if ts else cursor["ts"]
    last = soql_quote(str(cursor.get("id") or ""))
    return f"WHERE (SystemModstamp > {literal} OR (SystemModstamp = {literal} AND Id > {last}))"


def _classify(response: httpx.Response) -> tuple[str, str]:
    """Salesforce errors are a JSON array: [{"message", "errorCode"}]."""
    try:
        body = response.json()
    except ValueError:
        body = None
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    code = str(first.get("errorCode") or "")
    message = f"{code}: {first.get('message', response.reason_phrase)}"[:300]
    if response.status_code == 401 or code == "INVALID_SESSION_ID":
        return "auth", message
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "TotalRequests" in message or "total" in message.lower():
            return "daily", message
        return "rate", message
    if response.status_code in {429, 503} or response.status_code >= 500:
        return "unavailable", message
    return "client", message
