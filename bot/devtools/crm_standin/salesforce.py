"""A Salesforce REST stand-in: OAuth token endpoint (JWT bearer and refresh token), SOQL
`query` / `queryAll` with `nextRecordsUrl` batches, `describe`, sObject create / update.

Behaviour from Salesforce's documentation (integrations-notes.md §2): batches of up to
2,000 rows followed by relative `nextRecordsUrl`s; `queryAll` includes deleted rows with
`IsDeleted = true` and, for merges, `MasterRecordId`; errors are JSON arrays of
{message, errorCode} (401 INVALID_SESSION_ID, 400 MALFORMED_QUERY / INVALID_FIELD,
403 REQUEST_LIMIT_EXCEEDED); every answer carries `Sforce-Limit-Info`; the token answer
names the instance URL the client must use from then on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from typing import Any

from bot import clock

from .base import Reply, Request, StandinServer
from .soql import SoqlError, parse, sort_key

PREFIX = {"Account": "001", "Contact": "003", "User": "005", "Opportunity": "006", "Task": "00T"}
BASE_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "SystemModstamp": "datetime",
    "LastModifiedDate": "datetime",
    "CreatedDate": "datetime",
}
FIELDS: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "string",
        "Website": "url",
        "OwnerId": "reference",
        "Type": "picklist",
        "AnnualRevenue": "currency",
        "MasterRecordId": "reference",
    },
    "Contact": {
        "AccountId": "reference",
        "FirstName": "string",
        "LastName": "string",
        "Email": "email",
        "Title": "string",
        "OwnerId": "reference",
        "MasterRecordId": "reference",
    },
    "User": {"Email": "email", "Name": "string", "IsActive": "boolean"},
    "Opportunity": {
        "AccountId": "reference",
        "CloseDate": "date",
        "Amount": "currency",
        "StageName": "picklist",
        "Type": "picklist",
        "IsClosed": "boolean",
    },
    "Task": {
        "Subject": "string",
        "Description": "textarea",
        "ActivityDate": "date",
        "Status": "picklist",
        "Priority": "picklist",
        "OwnerId": "reference",
        "WhatId": "reference",
        "WhoId": "reference",
    },
}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def sf_error(status: int, code: str, message: str) -> Reply:
    return status, [{"message": message, "errorCode": code}], {}


class SalesforceStandin(StandinServer):
    def __init__(
        self,
        *,
        client_id: str = "standin-consumer-key",
        username: str = "integration@vendor.io",
        public_key_pem: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        batch_size: int = 2000,
        version: str = "59.0",
        daily_limit: int = 100_000,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.username = username
        self.public_key_pem = public_key_pem
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.batch_size = batch_size
        self.version = version
        self.daily_limit = daily_limit
        self.used = 0
        self.sessions: set[str] = set()
        self.revoked = False
        self.fields = {k: {**BASE_FIELDS, **v} for k, v in FIELDS.items()}
        self.rows: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in FIELDS}
        self.unique: dict[str, set[str]] = {k: set() for k in FIELDS}
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    # -- seeding ---------------------------------------------------------------------------
    def stamp(self) -> str:
        at = clock.now().astimezone(dt.UTC)
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"

    def add_field(
        self, sobject: str, name: str, type_: str = "string", unique: bool = False
    ) -> None:
        with self.lock:
            self.fields[sobject][name] = type_
            if unique:
                self.unique[sobject].add(name)

    def insert(self, sobject: str, values: dict[str, Any]) -> str:
        with self.lock:
            rid = f"{PREFIX[sobject]}{next(self._ids):012d}AAA"
            stamp = self.stamp()
            row: dict[str, Any] = {f: None for f in self.fields[sobject]}
            row.update(values)
            row.update(
                Id=rid,
                IsDeleted=False,
                SystemModstamp=stamp,
                LastModifiedDate=stamp,
                CreatedDate=stamp,
            )
            if sobject == "Opportunity" and row.get("IsClosed") is None:
                row["IsClosed"] = False
            self.rows[sobject][rid] = row
            return rid

    def change(self, sobject: str, rid: str, values: dict[str, Any]) -> None:
        with self.lock:
            row = self.rows[sobject][rid]
            row.update(values)
            row["SystemModstamp"] = row["LastModifiedDate"] = self.stamp()

    def delete(self, sobject: str, rid: str) -> None:
        self.change(sobject, rid, {"IsDeleted": True})

    def merge(self, sobject: str, master: str, loser: str) -> None:
        """Salesforce merge: the loser is deleted with MasterRecordId; children move."""
        with self.lock:
            self.change(sobject, loser, {"IsDeleted": True, "MasterRecordId": master})
            if sobject == "Account":
                for c in self.rows["Contact"].values():
                    if c["AccountId"] == loser:
                        self.change("Contact", c["Id"], {"AccountId": master})
            self.change(sobject, master, {})

    def live(self, sobject: str, **equals: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.rows[sobject].values()
                if not r["IsDeleted"] and all(r.get(k) == v for k, v in equals.items())
            ]

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def revoke(self) -> None:
        with self.lock:
            self.sessions.clear()
            self.revoked = True

    def reconnect(self) -> None:
        with self.lock:
            self.revoked = False

    # -- HTTP ------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Reply:
        status, body, headers = super().dispatch(request)
        return (
            status,
            body,
            {**headers, "Sforce-Limit-Info": f"api-usage={self.used}/{self.daily_limit}"},
        )

    def route(self, r: Request) -> Reply:
        if r.path == "/services/oauth2/token" and r.method == "POST":
            return self._token(r)
        if r.token not in self.sessions:
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        self.used += 1
        if self.used > self.daily_limit:
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        prefix = f"/services/data/v{self.version}/"
        if not r.path.startswith(prefix):
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        rest = [p for p in r.path[len(prefix) :].split("/") if p]
        if rest[:1] in (["query"], ["queryAll"]):
            if len(rest) == 2:
                return self._more(rest[1])
            return self._query(r.arg("q") or "", all_rows=rest[0] == "queryAll")
        if rest[:1] == ["sobjects"] and len(rest) >= 2:
            sobject = rest[1]
            if sobject not in self.fields:
                return sf_error(
                    404, "NOT_FOUND", f"The requested resource does not exist: {sobject}"
                )
            if len(rest) == 3 and rest[2] == "describe":
                return (
                    200,
                    {
                        "name": sobject,
                        "fields": [{"name": n, "type": t} for n, t in self.fields[sobject].items()],
                    },
                    {},
                )
            if len(rest) == 2 and r.method == "POST":
                return self._create(sobject, r.json())
            if len(rest) == 3 and r.method == "PATCH":
                return self._update(sobject, rest[2], r.json())
            if len(rest) == 3 and r.method == "GET":
                row = self.rows[sobject].get(rest[2])
                if row is None or row["IsDeleted"]:
                    return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
                return 200, self._view(sobject, row, list(row)), {}
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _token(self, r: Request) -> Reply:
        form = r.form()
        if self.revoked:
            return (
                400,
                {"error": "invalid_grant", "error_description": "expired access/refresh token"},
                {},
            )
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            import jwt

            if self.public_key_pem is None:
                return (
                    400,
                    {"error": "invalid_grant", "error_description": "no certificate uploaded"},
                    {},
                )
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.public_key_pem,
                    algorithms=["RS256"],
                    audience=self._audiences(),
                )
            except jwt.PyJWTError as exc:
                return (
                    400,
                    {"error": "invalid_grant", "error_description": f"invalid assertion: {exc}"},
                    {},
                )
            if claims.get("iss") != self.client_id or claims.get("sub") != self.username:
                return (
                    400,
                    {
                        "error": "invalid_client_id",
                        "error_description": "client identifier invalid",
                    },
                    {},
                )
        elif grant == "refresh_token":
            if (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (
                self.client_id,
                self.client_secret,
                self.refresh_token,
            ) or self.refresh_token is None:
                return (
                    400,
                    {"error": "invalid_grant", "error_description": "expired access/refresh token"},
                    {},
                )
        else:
            return (
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                {},
            )
        token = "00D" + secrets.token_urlsafe(24)
        self.sessions.add(token)
        return (
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001/005000000000001",
                "token_type": "Bearer",
                "issued_at": str(int(clock.now().timestamp() * 1000)),
                "scope": "api",
            },
            {},
        )

    def _audiences(self) -> list[str]:
        return [self.url, "https://login.salesforce.com", "https://test.salesforce.com"]

    def _view(self, sobject: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        view: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{self.version}/sobjects/{sobject}/{row['Id']}",
            }
        }
        for f in fields:
            view[f] = row.get(f)
        return view

    def _query(self, text: str, *, all_rows: bool) -> Reply:
        try:
            q = parse(text, lambda s: set(self.fields[s]) if s in self.fields else None)
        except SoqlError as exc:
            return sf_error(400, exc.code, str(exc))
        with self.lock:
            rows = [
                r
                for r in self.rows[q.sobject].values()
                if (all_rows or not r["IsDeleted"]) and q.where(r)
            ]
        for name, desc in reversed(q.order):
            rows.sort(key=sort_key([(name, desc)]), reverse=desc)
        if q.limit is not None:
            rows = rows[: q.limit]
        views = [self._view(q.sobject, r, q.fields) for r in rows]
        return self._batch(views, len(views))

    def _batch(self, views: list[dict[str, Any]], total: int) -> Reply:
        first, rest = views[: self.batch_size], views[self.batch_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": first}
        if rest:
            locator = f"01g{secrets.token_hex(6)}"
            self._cursors[locator] = rest
            body["nextRecordsUrl"] = (
                f"/services/data/v{self.version}/query/{locator}-{self.batch_size}"
            )
        return 200, body, {}

    def _more(self, locator: str) -> Reply:
        rows = self._cursors.pop(locator.split("-")[0], None)
        if rows is None:
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(rows, len(rows))

    def _check(self, sobject: str, body: dict[str, Any], rid: str | None = None) -> Reply | None:
        unknown = [k for k in body if k not in self.fields[sobject]]
        if unknown:
            return sf_error(
                400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}"
            )
        for name in self.unique[sobject]:
            value = body.get(name)
            if value and any(
                r.get(name) == value and r["Id"] != rid for r in self.rows[sobject].values()
            ):
                other = next(r["Id"] for r in self.rows[sobject].values() if r.get(name) == value)
                return sf_error(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {other}",
                )
        return None

    def _create(self, sobject: str, body: dict[str, Any]) -> Reply:
        with self.lock:
            problem = self._check(sobject, body)
            if problem:
                return problem
            rid = self.insert(sobject, body)
        return 201, {"id": rid, "success": True, "errors": []}, {}

    def _update(self, sobject: str, rid: str, body: dict[str, Any]) -> Reply:
        with self.lock:
            row = self.rows[sobject].get(rid)
            if row is None or row["IsDeleted"]:
                return sf_error(404, "ENTITY_IS_DELETED", "entity is deleted")
            problem = self._check(sobject, body, rid)
            if problem:
                return problem
            self.change(sobject, rid, body)
        return 204, None, {}
