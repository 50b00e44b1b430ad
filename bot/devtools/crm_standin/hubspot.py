"""A HubSpot CRM v3 stand-in: objects, search, owners, associations, properties, OAuth.

Behaviour taken from HubSpot's documentation (see /work/shared/integrations-notes.md §1):
search bodies with filterGroups (OR) of filters (AND), at most 200 per page, `after` paging
that stops at 10,000 results with HTTP 400; 429 bodies carrying `policyName`; archived
objects only in the `archived=true` listing; merges leaving `hs_merged_object_ids` on the
surviving record; unique-value properties readable with `idProperty`; association type ids
(task→company 192, task→contact 204, note→company 190, contact→company primary 1 / 279);
OAuth access tokens that expire and a refresh-token grant.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bot import clock

from .base import Reply, Request, StandinServer

SEARCH_CAP = 10_000
SEARCH_MAX_LIMIT = 200
TYPES = {"companies": "0-2", "contacts": "0-1", "tasks": "0-27", "notes": "0-46"}
DEFAULT_PROPERTIES: dict[str, dict[str, str]] = {
    "companies": {
        "name": "string",
        "domain": "string",
        "hubspot_owner_id": "enumeration",
        "annualrevenue": "number",
        "hs_object_id": "number",
        "hs_lastmodifieddate": "datetime",
        "hs_merged_object_ids": "enumeration",
        "createdate": "datetime",
    },
    "contacts": {
        "firstname": "string",
        "lastname": "string",
        "email": "string",
        "jobtitle": "string",
        "hs_buying_role": "enumeration",
        "hs_object_id": "number",
        "hs_lastmodifieddate": "datetime",
        "hs_merged_object_ids": "enumeration",
        "associatedcompanyid": "number",
    },
    "tasks": {
        "hs_task_subject": "string",
        "hs_task_body": "string",
        "hs_task_status": "enumeration",
        "hs_task_priority": "enumeration",
        "hs_timestamp": "datetime",
        "hubspot_owner_id": "enumeration",
        "hs_object_id": "number",
        "hs_lastmodifieddate": "datetime",
    },
    "notes": {
        "hs_note_body": "string",
        "hs_timestamp": "datetime",
        "hubspot_owner_id": "enumeration",
        "hs_object_id": "number",
        "hs_lastmodifieddate": "datetime",
    },
}


def _err(status: int, message: str, category: str, **extra: Any) -> Reply:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return status, body, {}


def rate_limited(policy: str = "TEN_SECONDLY_ROLLING") -> Reply:
    """HubSpot's 429 body (policyName says which limit)."""
    return (
        429,
        {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
        },
        {},
    )


@dataclass
class Obj:
    id: int
    props: dict[str, Any]
    created: str
    updated: str
    archived: bool = False
    archived_at: str | None = None


@dataclass
class Store:
    objects: dict[int, Obj] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # ids ascending (ids only grow)
    by_modified: list[tuple[int, int]] = field(default_factory=list)  # (modified ms, id)

    def touch(self, oid: int, old: int | None, new: int) -> None:
        """Keep the last-modified index (HubSpot's search is indexed; so is this)."""
        if old is not None:
            i = bisect.bisect_left(self.by_modified, (old, oid))
            if i < len(self.by_modified) and self.by_modified[i] == (old, oid):
                del self.by_modified[i]
        bisect.insort(self.by_modified, (new, oid))


class HubSpotStandin(StandinServer):
    def __init__(
        self,
        *,
        token: str = "pat-standin",
        portal_id: int = 4242,
        search_per_second: int | None = None,
        oauth: tuple[str, str, str] | None = None,
        access_ttl: float = 1800.0,
    ) -> None:
        super().__init__()
        self.portal_id = portal_id
        self.tokens: set[str] = {token} if token else set()
        self.oauth = oauth  # (client_id, client_secret, refresh_token)
        self.access_ttl = access_ttl
        self.access: dict[str, float] = {}  # OAuth access token → expiry (monotonic)
        self.stores: dict[str, Store] = {t: Store() for t in TYPES}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            t: {n: {"name": n, "type": ty, "hasUniqueValue": False} for n, ty in props.items()}
            for t, props in DEFAULT_PROPERTIES.items()
        }
        self.owners: dict[str, dict[str, Any]] = {}
        self.assoc: dict[tuple[str, int], dict[int, set[int]]] = {}  # (pair, from) → to → types
        self._ids = itertools.count(1001)
        self.search_per_second = search_per_second
        self._search_window: list[float] = []

    # -- seeding (what an admin would click in HubSpot) ----------------------------------------
    def now_ms(self) -> int:
        return int(clock.now().timestamp() * 1000)

    def _iso(self) -> str:
        return (
            clock.now().astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )

    def add_property(
        self, object_type: str, name: str, type_: str = "string", unique: bool = False
    ) -> None:
        with self.lock:
            self.properties[object_type][name] = {
                "name": name,
                "type": type_,
                "hasUniqueValue": unique,
            }

    def add_owner(self, owner_id: str, email: str, first: str = "", last: str = "") -> None:
        with self.lock:
            self.owners[owner_id] = {
                "id": owner_id,
                "email": email,
                "firstName": first,
                "lastName": last,
                "userId": int(owner_id) + 1,
                "archived": False,
                "createdAt": self._iso(),
                "updatedAt": self._iso(),
            }

    def create(self, object_type: str, props: dict[str, Any], at_ms: int | None = None) -> int:
        with self.lock:
            oid = next(self._ids)
            stamp = str(at_ms if at_ms is not None else self.now_ms())
            values = {k: (None if v is None else str(v)) for k, v in props.items()}
            values.update(hs_object_id=str(oid), hs_lastmodifieddate=stamp, createdate=stamp)
            store = self.stores[object_type]
            store.objects[oid] = Obj(oid, values, self._iso(), self._iso())
            store.order.append(oid)
            store.touch(oid, None, int(stamp))
            return oid

    def update(
        self, object_type: str, oid: int, props: dict[str, Any], at_ms: int | None = None
    ) -> None:
        with self.lock:
            obj = self.stores[object_type].objects[oid]
            old = int(obj.props["hs_lastmodifieddate"])
            obj.props.update({k: (None if v is None else str(v)) for k, v in props.items()})
            new = at_ms if at_ms is not None else self.now_ms()
            obj.props["hs_lastmodifieddate"] = str(new)
            obj.updated = self._iso()
            self.stores[object_type].touch(oid, old, new)

    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: set[int]
    ) -> None:
        with self.lock:
            self.assoc.setdefault((f"{from_type}/{to_type}", from_id), {}).setdefault(
                to_id, set()
            ).update(type_ids)

    def add_contact(self, props: dict[str, Any], company_id: int | None) -> int:
        oid = self.create("contacts", {**props, "associatedcompanyid": company_id})
        if company_id is not None:
            self.associate("contacts", oid, "companies", company_id, {1, 279})
        return oid

    def archive(self, object_type: str, oid: int) -> None:
        """Delete in HubSpot: the object leaves search and reads, shows as archived."""
        with self.lock:
            obj = self.stores[object_type].objects[oid]
            obj.archived, obj.archived_at = True, self._iso()

    def merge(self, object_type: str, primary: int, merged: int) -> None:
        """Merge `merged` into `primary`: the survivor lists the merged id; the merged one's
        contacts move to the survivor; the merged id is gone."""
        with self.lock:
            store = self.stores[object_type]
            gone = store.objects.pop(merged)
            store.order.remove(merged)
            stamp = int(gone.props["hs_lastmodifieddate"])
            store.by_modified.remove((stamp, merged))
            survivor = store.objects[primary]
            ids = [i for i in (survivor.props.get("hs_merged_object_ids") or "").split(";") if i]
            ids.append(str(gone.id))
            self.update(object_type, primary, {"hs_merged_object_ids": ";".join(ids)})
            if object_type == "companies":
                for (pair, _from), tos in self.assoc.items():
                    if pair == "contacts/companies" and merged in tos:
                        tos[primary] = tos.pop(merged)

    def objects(self, object_type: str, **equals: str) -> list[Obj]:
        with self.lock:
            return [
                o
                for o in self.stores[object_type].objects.values()
                if not o.archived and all(o.props.get(k) == v for k, v in equals.items())
            ]

    def associations_of(self, object_type: str, oid: int, to_type: str) -> dict[int, set[int]]:
        with self.lock:
            return dict(self.assoc.get((f"{object_type}/{to_type}", oid), {}))

    def revoke(self) -> None:
        """Uninstall / revoke: every token and the refresh token stop working."""
        with self.lock:
            self.tokens.clear()
            self.access.clear()
            self.oauth = None

    # -- HTTP ------------------------------------------------------------------------------
    def route(self, r: Request) -> Reply:
        if r.path == "/oauth/v1/token" and r.method == "POST":
            return self._token(r)
        if not self._authorised(r.token):
            return _err(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        parts = [p for p in r.path.split("/") if p]
        if r.path == "/account-info/v3/details":
            return (
                200,
                {"portalId": self.portal_id, "timeZone": "US/Eastern", "accountType": "STANDARD"},
                {},
            )
        if parts[:3] == ["crm", "v3", "owners"]:
            return self._owners(r)
        if parts[:3] == ["crm", "v3", "properties"] and len(parts) >= 4:
            return self._props(r, parts[3], parts[4] if len(parts) > 4 else None)
        if (
            parts[:2] == ["crm", "v4"]
            and parts[2:3] == ["associations"]
            and parts[-2:] == ["batch", "read"]
        ):
            return self._assoc_read(r, parts[3], parts[4])
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4 and parts[3] in TYPES:
            object_type = parts[3]
            if len(parts) == 5 and parts[4] == "search" and r.method == "POST":
                return self._search(r, object_type)
            if len(parts) == 4 and r.method == "GET":
                return self._list(r, object_type)
            if len(parts) == 4 and r.method == "POST":
                return self._create(r, object_type)
            if len(parts) == 5 and r.method == "GET":
                return self._read(r, object_type, parts[4])
            if len(parts) == 5 and r.method == "PATCH":
                return self._patch(r, object_type, parts[4])
        return _err(404, f"No route for {r.method} {r.path}", "OBJECT_NOT_FOUND")

    def _authorised(self, token: str | None) -> bool:
        if token is None:
            return False
        if token in self.tokens:
            return True
        expiry = self.access.get(token)
        return expiry is not None and time.monotonic() < expiry

    def _token(self, r: Request) -> Reply:
        form = r.form()
        if (
            self.oauth is None
            or form.get("grant_type") != "refresh_token"
            or (form.get("client_id"), form.get("client_secret"), form.get("refresh_token"))
            != self.oauth
        ):
            return (
                400,
                {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"},
                {},
            )
        access = secrets.token_urlsafe(16)
        self.access[access] = time.monotonic() + self.access_ttl
        return (
            200,
            {
                "access_token": access,
                "refresh_token": self.oauth[2],
                "expires_in": int(self.access_ttl),
                "token_type": "bearer",
            },
            {},
        )

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access = {t: 0.0 for t in self.access}

    def _owners(self, r: Request) -> Reply:
        owners = sorted(self.owners.values(), key=lambda o: int(o["id"]))
        limit = min(int(r.arg("limit", "100") or 100), 500)
        start = int(r.arg("after", "0") or 0)
        page = owners[start : start + limit]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body, {}

    def _props(self, r: Request, object_type: str, name: str | None) -> Reply:
        props = self.properties.get(object_type)
        if props is None:
            return _err(404, f"Unknown object type {object_type}", "OBJECT_NOT_FOUND")
        if r.method == "GET" and name is None:
            return 200, {"results": list(props.values())}, {}
        if r.method == "GET":
            if name not in props:
                return _err(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
            return 200, props[name], {}
        if r.method == "POST":
            body = r.json()
            if body.get("name") in props:
                return _err(
                    409,
                    f"A property named '{body['name']}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                )
            props[body["name"]] = {
                "name": body["name"],
                "type": body.get("type", "string"),
                "hasUniqueValue": bool(body.get("hasUniqueValue")),
            }
            return 201, props[body["name"]], {}
        return _err(405, "Method not allowed", "VALIDATION_ERROR")

    def _view(self, obj: Obj, wanted: list[str] | None) -> dict[str, Any]:
        props = obj.props if wanted is None else {k: obj.props.get(k) for k in wanted}
        view: dict[str, Any] = {
            "id": str(obj.id),
            "properties": props,
            "createdAt": obj.created,
            "updatedAt": obj.updated,
            "archived": obj.archived,
        }
        if obj.archived:
            view["archivedAt"] = obj.archived_at
        return view

    def _list(self, r: Request, object_type: str) -> Reply:
        archived = r.arg("archived", "false") == "true"
        limit = min(int(r.arg("limit", "10") or 10), 100)
        after = int(r.arg("after", "0") or 0)
        store = self.stores[object_type]
        start = bisect.bisect_right(store.order, after)
        out = []
        last = None
        for oid in store.order[start:]:
            obj = store.objects[oid]
            if obj.archived == archived:
                out.append(self._view(obj, (r.arg("properties") or "hs_object_id").split(",")))
                last = oid
                if len(out) == limit:
                    break
        body: dict[str, Any] = {"results": out}
        if len(out) == limit and last is not None and last != store.order[-1]:
            body["paging"] = {"next": {"after": str(last)}}
        return 200, body, {}

    def _search(self, r: Request, object_type: str) -> Reply:
        if self.search_per_second is not None:
            now = time.monotonic()
            self._search_window = [t for t in self._search_window if now - t < 1.0]
            if len(self._search_window) >= self.search_per_second:
                return rate_limited("SECONDLY")
            self._search_window.append(now)
        body = r.json()
        limit = int(body.get("limit", 10))
        if limit > SEARCH_MAX_LIMIT:
            return _err(400, f"limit must be at most {SEARCH_MAX_LIMIT}", "VALIDATION_ERROR")
        offset = int(body.get("after") or 0)
        if offset + limit > SEARCH_CAP:
            return _err(
                400,
                "The request could not be processed: search results are capped at 10,000",
                "VALIDATION_ERROR",
            )
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters", [])) for g in groups) > 25:
            return _err(400, "Too many filters", "VALIDATION_ERROR")
        store = self.stores[object_type]
        sorts = body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        sort = sorts[0]
        by_id = (
            sort.get("propertyName") == "hs_object_id"
            and sort.get("direction", "ASCENDING") == "ASCENDING"
        )
        ids: list[int] = store.order
        start = 0
        if by_id and len(groups) == 1:
            for f in groups[0].get("filters", []):
                if f.get("propertyName") == "hs_object_id" and f.get("operator") in {"GT", "GTE"}:
                    v = int(f["value"])
                    start = (
                        bisect.bisect_right(ids, v)
                        if f["operator"] == "GT"
                        else bisect.bisect_left(ids, v)
                    )
        matches: list[Obj] = []
        total = 0
        candidates = ids[start:]
        since = _lower_bound(groups, "hs_lastmodifieddate")
        if by_id and since is not None:
            # a last-modified window: read the index, not every record
            lo = bisect.bisect_left(store.by_modified, (since, -1))
            recent = store.by_modified[lo:]
            if len(recent) < len(candidates):
                first = ids[start] if start < len(ids) else None
                candidates = sorted(i for _, i in recent if first is not None and i >= first)
        if not by_id:
            objs = [store.objects[i] for i in candidates]
            objs.sort(
                key=lambda o: _key(o.props.get(sort["propertyName"])),
                reverse=sort.get("direction") == "DESCENDING",
            )
            candidates = [o.id for o in objs]
        only_ids = all(
            f.get("propertyName") == "hs_object_id" for g in groups for f in g.get("filters", [])
        )
        for oid in candidates:
            obj = store.objects[oid]
            if obj.archived or not _matches(obj.props, groups):
                continue
            total += 1
            if offset < total <= offset + limit:
                matches.append(obj)
            elif total > offset + limit and (only_ids or len(candidates) > 20_000):
                # Past the page: count the rest only when it is cheap (a stand-in shortcut;
                # `total` is then an upper bound, which no client should rely on anyway).
                total = offset + len(matches) + (len(candidates) - candidates.index(oid))
                break
        wanted = body.get("properties") or ["hs_object_id", "createdate", "hs_lastmodifieddate"]
        out: dict[str, Any] = {"total": total, "results": [self._view(o, wanted) for o in matches]}
        if offset + limit < total:
            out["paging"] = {"next": {"after": str(offset + limit)}}
        return 200, out, {}

    def _assoc_read(self, r: Request, from_type: str, to_type: str) -> Reply:
        results = []
        for item in r.json().get("inputs", []):
            tos = self.assoc.get((f"{from_type}/{to_type}", int(item["id"])), {})
            live = {
                t: ty
                for t, ty in tos.items()
                if t in self.stores[to_type].objects
                and not self.stores[to_type].objects[t].archived
            }
            if live:
                results.append(
                    {
                        "from": {"id": str(item["id"])},
                        "to": [
                            {
                                "toObjectId": t,
                                "associationTypes": [
                                    {
                                        "category": "HUBSPOT_DEFINED",
                                        "typeId": ty,
                                        "label": "Primary" if ty == 1 else None,
                                    }
                                    for ty in sorted(types)
                                ],
                            }
                            for t, types in live.items()
                        ],
                    }
                )
        return (
            200,
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": self._iso(),
                "completedAt": self._iso(),
            },
            {},
        )

    def _create(self, r: Request, object_type: str) -> Reply:
        body = r.json()
        props = body.get("properties") or {}
        known = self.properties[object_type]
        unknown = [k for k in props if k not in known]
        if unknown:
            return _err(
                400,
                f"Property values were not valid: property {unknown[0]!r} does not exist",
                "VALIDATION_ERROR",
            )
        for name, value in props.items():
            if (
                known[name].get("hasUniqueValue")
                and value
                and self.objects(object_type, **{name: str(value)})
            ):
                return _err(
                    409, f"A {object_type[:-1]} with {name} {value} already exists", "CONFLICT"
                )
        if object_type == "tasks" and not props.get("hs_timestamp"):
            return _err(400, "hs_timestamp is required", "VALIDATION_ERROR")
        oid = self.create(object_type, props)
        for a in body.get("associations") or []:
            for t in a.get("types", []):
                to_type = {
                    192: "companies",
                    204: "contacts",
                    190: "companies",
                    202: "contacts",
                }.get(int(t["associationTypeId"]))
                if to_type is None:
                    return _err(
                        400,
                        f"Unknown association type {t['associationTypeId']}",
                        "VALIDATION_ERROR",
                    )
                self.associate(
                    object_type, oid, to_type, int(a["to"]["id"]), {int(t["associationTypeId"])}
                )
        return 201, self._view(self.stores[object_type].objects[oid], None), {}

    def _find(self, r: Request, object_type: str, ref: str) -> Obj | None:
        id_property = r.arg("idProperty")
        if id_property:
            prop = self.properties[object_type].get(id_property)
            if prop is None or not prop.get("hasUniqueValue"):
                return None
            hits = self.objects(object_type, **{id_property: ref})
            return hits[0] if hits else None
        obj = self.stores[object_type].objects.get(int(ref)) if ref.isdigit() else None
        return obj if obj is not None and not obj.archived else None

    def _read(self, r: Request, object_type: str, ref: str) -> Reply:
        obj = self._find(r, object_type, ref)
        if obj is None:
            return _err(404, "Object not found. objectId are usually numeric.", "OBJECT_NOT_FOUND")
        wanted = (r.arg("properties") or "").split(",") if r.arg("properties") else None
        return 200, self._view(obj, wanted), {}

    def _patch(self, r: Request, object_type: str, ref: str) -> Reply:
        obj = self._find(r, object_type, ref)
        if obj is None:
            return _err(404, "Object not found.", "OBJECT_NOT_FOUND")
        props = r.json().get("properties") or {}
        unknown = [k for k in props if k not in self.properties[object_type]]
        if unknown:
            return _err(400, f"Property {unknown[0]!r} does not exist", "VALIDATION_ERROR")
        self.update(object_type, obj.id, props)
        return 200, self._view(obj, None), {}


def _lower_bound(groups: list[dict[str, Any]], prop: str) -> int | None:
    """The GTE/GT bound on `prop` when the search is one AND group that has one."""
    if len(groups) != 1:
        return None
    for f in groups[0].get("filters", []):
        if f.get("propertyName") == prop and f.get("operator") in {"GT", "GTE"}:
            return int(f["value"])
    return None


def _key(value: Any) -> Any:
    if value is None:
        return (1, "")
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (0, str(value))


def _compare(actual: Any, op: str, value: Any, values: Any) -> bool:
    if op == "HAS_PROPERTY":
        return actual not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    if actual is None:
        return op == "NEQ"
    if op == "IN":
        return str(actual) in {str(v) for v in values or []}
    a, b = _key(actual), _key(value)
    if a[0] == 0 and b[0] == 0 and type(a[1]) is not type(b[1]):
        a, b = (0, str(actual)), (0, str(value))
    return {
        "EQ": a == b,
        "NEQ": a != b,
        "GT": a > b,
        "GTE": a >= b,
        "LT": a < b,
        "LTE": a <= b,
    }.get(op, False)


def _matches(props: dict[str, Any], groups: list[dict[str, Any]]) -> bool:
    if not groups:
        return True
    return any(
        all(
            _compare(props.get(f["propertyName"]), f["operator"], f.get("value"), f.get("values"))
            for f in g.get("filters", [])
        )
        for g in groups
    )
