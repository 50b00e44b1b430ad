"""HubSpot CRM v3: companies, contacts, owners, associations; tasks and notes written back.

Incremental reads use the search API sorted by `hs_object_id` inside a fixed
`hs_lastmodifieddate` window (`GTE since`, `LTE upper`) and move an id window forward
instead of paging: a search stops at 10,000 results, and bulk edits give thousands of
records the same timestamp, so "restart from the last timestamp" would loop (the fix
Airbyte uses). Auth is a private-app token, or OAuth with a refresh token.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
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
from bot.crm.mapping import FIELD_KINDS, HubSpotMap

PAGE = 200  # search page size (HubSpot raised it from 100 to 200)
# HubSpot's search index trails writes by a few seconds: a window ends this far in the past,
# so nothing modified inside it can still be on its way into the index.
SEARCH_LAG = dt.timedelta(seconds=30)
OBJECTS = {"company": "companies", "contact": "contacts"}
CONTACT_PROPS = ("firstname", "lastname", "email", "jobtitle")
SYNC_PROPS = ("hs_object_id", "hs_lastmodifieddate", "hs_merged_object_ids")
PRIMARY_COMPANY = 1  # association type id: contact → company (primary)
TASK_TO_COMPANY, TASK_TO_CONTACT, NOTE_TO_COMPANY = 192, 204, 190
TASK_STATUS = {"open": "NOT_STARTED", "done": "COMPLETED", "deferred": "DEFERRED"}
PROPERTY_TYPES = {"number": {"number"}, "date": {"date", "datetime"}, "owner": {"enumeration"}}


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _parse_ts(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        if str(value).isdigit():
            return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class HubSpotConnector:
    vendor = "hubspot"

    def __init__(
        self,
        mapping: HubSpotMap,
        *,
        api_url: str,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        backoff: float = 1.0,
        attempts: int = 8,
        portal: str | None = None,
    ) -> None:
        if not token and not (client_id and client_secret and refresh_token):
            raise CrmAuthError(
                "HubSpot needs HUBSPOT_TOKEN (private app) or HUBSPOT_CLIENT_ID, "
                "HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (OAuth)"
            )
        self.mapping = mapping
        self.api_url = api_url.rstrip("/")
        self._static = token
        self._oauth = (client_id, client_secret, refresh_token)
        self._token: str | None = token
        self._expires = 0.0
        self.portal = portal
        self.http = CrmHttp(
            "HubSpot",
            timeout=timeout,
            reauth=self._refresh,
            headers=self._headers,
            classify=_classify,
            backoff=backoff,
            attempts=attempts,
        )
        self._ext_ready: set[str] = set()

    @property
    def requests(self) -> int:
        return self.http.requests

    # -- auth ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if not self._static and (self._token is None or time.monotonic() > self._expires - 60):
            self._refresh()
        return {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}

    def _refresh(self) -> None:
        """OAuth: trade the refresh token for an access token (they live ~30 minutes)."""
        if self._static:
            raise CrmAuthError(
                "HubSpot refused HUBSPOT_TOKEN (revoked, or missing a scope); "
                "create a new private-app token and set it"
            )
        client_id, secret, refresh = self._oauth
        try:
            response = self.http.client.post(
                f"{self.api_url}/oauth/v1/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": client_id,
                    "client_secret": secret,
                    "refresh_token": refresh,
                },
            )
        except httpx.HTTPError as exc:
            raise CrmError(
                f"HubSpot token endpoint unreachable ({type(exc).__name__})", retryable=True
            ) from None
        self.http.requests += 1
        if response.status_code != 200:
            raise CrmAuthError(
                "HubSpot refused the refresh token (the app was uninstalled or the token "
                "revoked); reconnect HubSpot and set HUBSPOT_REFRESH_TOKEN"
            )
        body = json_body(response)
        self._token = body["access_token"]
        self._expires = time.monotonic() + float(body.get("expires_in", 1800))
        if body.get("refresh_token"):
            self._oauth = (client_id, secret, body["refresh_token"])

    def _url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def _get(self, path: str, **kw: Any) -> Any:
        return json_body(self.http.call("GET", self._url(path), **kw))

    def _post(self, path: str, body: dict) -> Any:
        return json_body(self.http.call("POST", self._url(path), json=body))

    # -- checks ----------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Portal id (for record links) and the mapped properties HubSpot has, with types."""
        if self.portal is None:
            self.portal = str(self._get("/account-info/v3/details").get("portalId") or "") or None
        found: list[str] = []
        props = self._properties("companies")
        for name, prop in self.mapping.company.properties().items():
            found += _property_problem("company", name, prop, props)
        if self.mapping.contact.role:
            contact_props = self._properties("contacts")
            if self.mapping.contact.role not in contact_props:
                found.append(
                    f"contact.role: HubSpot has no contact property '{self.mapping.contact.role}'"
                )
        return found

    def _properties(self, object_type: str) -> dict[str, str]:
        body = self._get(f"/crm/v3/properties/{object_type}")
        return {p["name"]: p.get("type", "string") for p in body.get("results", [])}

    def _company_props(self) -> list[str]:
        return sorted({*SYNC_PROPS, *self.mapping.company.properties().values()})

    def _contact_props(self) -> list[str]:
        role = [self.mapping.contact.role] if self.mapping.contact.role else []
        return sorted({*SYNC_PROPS, *CONTACT_PROPS, *role})

    def drop_properties(self, names: set[str]) -> None:
        """Leave out mapped properties the portal does not have (reported by `check`)."""
        company = self.mapping.company
        for field in FIELD_KINDS:
            if getattr(company, field) in names:
                setattr(company, field, None)
        if self.mapping.contact.role in names:
            self.mapping.contact.role = None

    # -- reads -----------------------------------------------------------------------------
    def owners(self) -> Iterator[Owner]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "archived": "false"}
            if after:
                params["after"] = after
            body = self._get("/crm/v3/owners", params=params)
            for o in body.get("results", []):
                name = " ".join(p for p in (o.get("firstName"), o.get("lastName")) if p)
                yield Owner(str(o["id"]), o.get("email"), name or None, not o.get("archived"))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def changes(self, kind: str, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        """Pages of records modified in [since, upper], by ascending id; the cursor after
        each page carries the id window, so a stopped sync resumes inside the window."""
        object_type = OBJECTS[kind]
        since = cursor.get("since")
        upper = cursor.get("upper") or _ms(now - SEARCH_LAG)
        after_id = cursor.get("after_id")
        if since is not None and upper < int(since):
            yield Page([], dict(cursor))  # the last window ended less than SEARCH_LAG ago
            return
        props = self._company_props() if kind == "company" else self._contact_props()
        while True:
            filters: list[dict[str, Any]] = [
                {"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": str(upper)}
            ]
            if since is not None:
                filters.append(
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since)}
                )
            if after_id is not None:
                filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)}
                )
            body = self._post(
                f"/crm/v3/objects/{object_type}/search",
                {
                    "filterGroups": [{"filters": filters}],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": props,
                    "limit": PAGE,
                },
            )
            results = body.get("results", [])
            records = [self._record(r) for r in results]
            if kind == "contact" and records:
                self._attach_companies(records)
            done = len(results) < PAGE or not (body.get("paging") or {}).get("next")
            if done:
                next_cursor = {"since": int(upper) + 1, "upper": None, "after_id": None}
            else:
                after_id = results[-1]["id"]
                next_cursor = {"since": since, "upper": upper, "after_id": after_id}
            yield Page(records, next_cursor)
            if done:
                return

    def _record(self, raw: dict[str, Any]) -> Record:
        props = raw.get("properties") or {}
        merged = [m for m in str(props.get("hs_merged_object_ids") or "").split(";") if m]
        return Record(
            id=str(raw["id"]),
            props=props,
            modified_at=_parse_ts(props.get("hs_lastmodifieddate") or raw.get("updatedAt")),
            merged_ids=merged,
        )

    def _attach_companies(self, records: list[Record]) -> None:
        """Each contact's company: the primary association (type 1), else the first one."""
        body = self._post(
            "/crm/v4/associations/contacts/companies/batch/read",
            {"inputs": [{"id": r.id} for r in records]},
        )
        by_contact: dict[str, str] = {}
        for result in body.get("results", []):
            tos = result.get("to") or []
            primary = next(
                (
                    t
                    for t in tos
                    if any(
                        a.get("typeId") == PRIMARY_COMPANY for a in t.get("associationTypes", [])
                    )
                ),
                tos[0] if tos else None,
            )
            if primary is not None:
                by_contact[str(result["from"]["id"])] = str(primary["toObjectId"])
        for r in records:
            r.company_id = by_contact.get(r.id)

    def renewals(self, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        return iter(())  # HubSpot renewal dates are a company property

    def deletions(self, kind: str) -> Iterator[list[Record]]:
        """Archived (deleted) records: HubSpot's search never returns them."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {
                "limit": 100,
                "archived": "true",
                "properties": "hs_object_id",
            }
            if after:
                params["after"] = after
            body = self._get(f"/crm/v3/objects/{OBJECTS[kind]}", params=params)
            yield [Record(str(r["id"]), {}, deleted=True) for r in body.get("results", [])]
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    # -- writes ----------------------------------------------------------------------------
    def _ensure_external_id(self, object_type: str) -> None:
        """Our external-id property exists on tasks / notes, unique, so a second create with
        the same key is refused and a lookup by it is a consistent read."""
        if object_type in self._ext_ready:
            return
        name = self.mapping.external_id
        response = self.http.call(
            "GET", self._url(f"/crm/v3/properties/{object_type}/{name}"), allow_404=True
        )
        if response.status_code == 404:
            self.http.call(
                "POST",
                self._url(f"/crm/v3/properties/{object_type}"),
                json={
                    "name": name,
                    "label": "Followthrough id",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "task_information"
                    if object_type == "tasks"
                    else "note_information",
                    "hasUniqueValue": True,
                    "description": "Set by Followthrough; do not edit",
                },
            )
        self._ext_ready.add(object_type)

    def find(self, kind: str, key: str) -> Remote | None:
        object_type = "tasks" if kind == "task" else "notes"
        self._ensure_external_id(object_type)
        response = self.http.call(
            "GET",
            self._url(f"/crm/v3/objects/{object_type}/{key}"),
            params={"idProperty": self.mapping.external_id, "properties": "hs_task_status"},
            allow_404=True,
        )
        if response.status_code == 404:
            return None
        body = json_body(response)
        return Remote(str(body["id"]), (body.get("properties") or {}).get("hs_task_status"))

    def _task_props(self, spec: TaskSpec) -> dict[str, Any]:
        due = dt.datetime.combine(spec.due, dt.time(12, 0), dt.UTC)
        props: dict[str, Any] = {
            "hs_task_subject": spec.subject[:255],
            "hs_task_body": spec.body[:65_000],
            "hs_task_status": TASK_STATUS[spec.status],
            "hs_task_priority": "MEDIUM",
            "hs_timestamp": due.isoformat().replace("+00:00", "Z"),
        }
        if spec.owner_id:
            props["hubspot_owner_id"] = spec.owner_id
        return props

    def create_task(self, spec: TaskSpec) -> Remote:
        self._ensure_external_id("tasks")
        associations = []
        if spec.company_id:
            associations.append(_assoc(spec.company_id, TASK_TO_COMPANY))
        if spec.contact_id:
            associations.append(_assoc(spec.contact_id, TASK_TO_CONTACT))
        props = {**self._task_props(spec), self.mapping.external_id: spec.key}
        response = self.http.call(
            "POST",
            self._url("/crm/v3/objects/tasks"),
            json={"properties": props, "associations": associations},
            once=True,
        )
        return Remote(str(json_body(response)["id"]), props["hs_task_status"])

    def update_task(self, task_id: str, spec: TaskSpec) -> None:
        self.http.call(
            "PATCH",
            self._url(f"/crm/v3/objects/tasks/{task_id}"),
            json={"properties": self._task_props(spec)},
        )

    def create_note(self, spec: NoteSpec) -> Remote:
        self._ensure_external_id("notes")
        props: dict[str, Any] = {
            "hs_note_body": spec.body[:65_000],
            "hs_timestamp": spec.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            self.mapping.external_id: spec.key,
        }
        if spec.owner_id:
            props["hubspot_owner_id"] = spec.owner_id
        response = self.http.call(
            "POST",
            self._url("/crm/v3/objects/notes"),
            json={"properties": props, "associations": [_assoc(spec.company_id, NOTE_TO_COMPANY)]},
            once=True,
        )
        return Remote(str(json_body(response)["id"]))

    def close(self) -> None:
        self.http.close()


def _assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _property_problem(object_name: str, field: str, prop: str, props: dict[str, str]) -> list[str]:
    if prop not in props:
        return [f"{object_name}.{field}: HubSpot has no {object_name} property '{prop}'"]
    wanted = PROPERTY_TYPES.get(FIELD_KINDS[field])
    if wanted and props[prop] not in wanted and field not in {"csm", "ae"}:
        return [
            f"{object_name}.{field}: HubSpot property '{prop}' is of type {props[prop]}; "
            f"{field} needs {' or '.join(sorted(wanted))} (values that do not parse are skipped)"
        ]
    return []


def _classify(response: httpx.Response) -> tuple[str, str]:
    """HubSpot's error body → (kind, message). 429 carries `policyName`."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("message") or response.reason_phrase or "error")[:300]
    status = response.status_code
    if status == 401:
        return "auth", message
    if status == 429:
        if body.get("policyName") == "DAILY":
            return "daily", f"daily API limit reached ({message})"
        return "rate", message
    if status >= 500:
        return "unavailable", message
    return "client", f"{body.get('category', 'error')}: {message}"
