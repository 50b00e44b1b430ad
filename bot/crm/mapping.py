"""What maps to what: the CRM mapping file, validated with line-precise errors, and the pure
functions that turn one CRM record into account or contact fields.

Nothing here does I/O beyond reading the mapping file: the connectors hand in a record's
properties as the CRM sent them (strings, numbers, epoch milliseconds, ISO dates) and get
back typed fields plus the problems found, so one bad value never stops a sync.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from bot.playbooks.checks import did_you_mean
from bot.yamlcheck import Problem, at_node, compose, walk

DEFAULT_MAPPING = Path(__file__).resolve().parent / "mapping.yaml"
DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9-]+\.)+[a-z]{2,}$")
ROLE_PRIORITY = ("champion", "economic_buyer", "executive_sponsor", "decision_maker")

# Account fields a CRM can own, and the kind of value each needs.
FIELD_KINDS = {
    "name": "text",
    "domain": "text",
    "csm": "owner",
    "ae": "owner",
    "arr": "number",
    "renewal_date": "date",
    "tier": "text",
}
# The Account column each field lands in (owners become Slack user ids).
ACCOUNT_COLUMN = {
    "name": "name",
    "domain": "domain",
    "csm": "csm_user_id",
    "ae": "ae_user_id",
    "arr": "arr",
    "renewal_date": "renewal_date",
    "tier": "tier",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RenewalFromOpportunity(_Strict):
    opportunity_type: str | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RenewalFromOpportunity:
        if bool(self.opportunity_type) == bool(self.field):
            raise ValueError("renewal_date needs either opportunity_type or field")
        return self


class CompanyMap(_Strict):
    name: str
    domain: str | None = None
    csm: str | None = None
    ae: str | None = None
    arr: str | None = None
    renewal_date: str | RenewalFromOpportunity | None = None
    tier: str | None = None

    def properties(self) -> dict[str, str]:
        """Our field → the CRM property it is read from (renewal via Opportunity excluded)."""
        out: dict[str, str] = {}
        for name in FIELD_KINDS:
            value = getattr(self, name)
            if isinstance(value, RenewalFromOpportunity):
                value = value.field
            if value:
                out[name] = value
        return out

    @property
    def renewal_opportunity_type(self) -> str | None:
        r = self.renewal_date
        return r.opportunity_type if isinstance(r, RenewalFromOpportunity) else None


class ContactMap(_Strict):
    role: str | None = None
    roles: dict[str, str] = {}


class VendorMap(_Strict):
    company: CompanyMap
    contact: ContactMap = ContactMap()
    external_id: str


class HubSpotMap(VendorMap):
    pass


class SalesforceMap(_Strict):
    account: CompanyMap
    contact: ContactMap = ContactMap()
    external_id: str

    @property
    def company(self) -> CompanyMap:
        return self.account


class MappingConfig(_Strict):
    hubspot: HubSpotMap | None = None
    salesforce: SalesforceMap | None = None

    def for_vendor(self, vendor: str) -> VendorMap | SalesforceMap:
        found = getattr(self, vendor, None)
        if found is None:
            raise MappingError(
                [Problem("<mapping>", 1, 1, f"the mapping file has no '{vendor}' section")]
            )
        return found


class MappingError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class LocatedMapping:
    """The parsed mapping plus a way to point at the line of any of its fields."""

    config: MappingConfig
    text: str
    source: str
    root: Any

    def problem(self, path: tuple[str | int, ...], message: str, severity: str = "warning"):
        node, _, _ = walk(self.root, path)
        return at_node(self.text, self.source, node, message, severity)


def load_mapping(path: str | Path | None = None) -> LocatedMapping:
    """Read and validate the mapping file; `MappingError` lists every problem at its line."""
    file = Path(path) if path else DEFAULT_MAPPING
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            [Problem(str(file), 1, 1, f"cannot read the mapping file ({exc.strerror})")]
        ) from None
    return parse_mapping(text, file.name)


def parse_mapping(text: str, source: str = "mapping.yaml") -> LocatedMapping:
    root, data, problems = compose(text, source)
    if root is None and not problems:
        problems = [Problem(source, 1, 1, "file is empty; it needs a hubspot or salesforce part")]
    if problems:
        raise MappingError(problems)
    try:
        config = MappingConfig.model_validate(data)
    except ValidationError as exc:
        found = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "str")))
            assert root is not None  # a document that validated at all has a root
            node, key_node, _ = walk(root, loc)
            message = _message(err, loc)
            target = key_node if err["type"] == "extra_forbidden" and key_node else node
            found.append(at_node(text, source, target, message))
        # A union (text, or a mapping) fails both ways: keep the more specific finding.
        specific = {(p.line, p.column) for p in found if not p.message.endswith("must be text")}
        found = [
            p
            for p in found
            if not (p.message.endswith("must be text") and (p.line, p.column) in specific)
        ]
        raise MappingError(sorted(set(found), key=lambda p: (p.line, p.column))) from None
    return LocatedMapping(config, text, source, root)


def _message(err: Any, loc: tuple) -> str:
    name = str(loc[-1]) if loc else "mapping"
    where = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parents: dict[str, type[BaseModel]] = {
            "company": CompanyMap,
            "account": CompanyMap,
            "contact": ContactMap,
        }
        parent = parents.get(str(loc[-2]) if len(loc) > 1 else "", None)
        known = sorted(parent.model_fields) if parent else ["hubspot", "salesforce"]
        hint = did_you_mean(name, known) or f"; known fields: {', '.join(known)}"
        return f"unknown field '{where}'{hint}"
    if kind == "missing":
        return f"missing required field '{where}'"
    if kind in {"string_type", "model_type", "dict_type", "model_attributes_type"}:
        return f"{where} must be {'a mapping' if 'dict' in kind or 'model' in kind else 'text'}"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


# --- values ---------------------------------------------------------------------------------


def normalise_domain(value: Any) -> str | None:
    """'https://www.Acme.com/about' → 'acme.com'; None when it is not a domain."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).removeprefix("www.")
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    return text if DOMAIN_RE.match(text) else None


def parse_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, int | float):
        return float(value)
    text = re.sub(r"[,$€£\s]", "", str(value))
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"'{value}' is not a number") from None


def parse_date(value: Any) -> dt.date:
    """A CRM date: ISO 'YYYY-MM-DD', an ISO datetime, or HubSpot's epoch milliseconds."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).date()
    text = str(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise ValueError(f"'{value}' is not a date") from None


@dataclass
class CompanyFields:
    values: dict[str, Any]  # our field → typed value (owners: the CRM owner id)
    problems: list[str] = field(default_factory=list)


def company_fields(
    mapping: CompanyMap, props: dict[str, Any], today: dt.date | None = None
) -> CompanyFields:
    """Typed account fields from one CRM company record; a bad value is left out and said."""
    out = CompanyFields({})
    for name, prop in mapping.properties().items():
        raw = props.get(prop)
        if raw is None or raw == "":
            out.values[name] = None
            continue
        kind = FIELD_KINDS[name]
        try:
            if kind == "number":
                out.values[name] = parse_number(raw)
            elif kind == "date":
                out.values[name] = parse_date(raw)
            elif name == "domain":
                domain = normalise_domain(raw)
                if domain is None:
                    raise ValueError(f"'{raw}' is not a domain")
                out.values[name] = domain
            else:
                out.values[name] = str(raw).strip()[:200]
        except ValueError as exc:
            out.problems.append(f"{name} ({prop}): {exc}; kept the previous value")
    if not out.values.get("name"):
        out.values["name"] = None
    renewal = out.values.get("renewal_date")
    if today and isinstance(renewal, dt.date) and renewal < today:
        out.problems.append(f"renewal date {renewal.isoformat()} is in the past")
    return out


def contact_role(mapping: ContactMap, props: dict[str, Any]) -> str | None:
    """Our role for a contact: the highest-priority mapped value of a (multi-)select."""
    if not mapping.role:
        return None
    raw = props.get(mapping.role)
    if raw in (None, ""):
        return None
    values = [v.strip() for v in re.split(r"[;,]", str(raw)) if v.strip()]
    lookup = {k.lower(): v for k, v in mapping.roles.items()}
    roles = [lookup.get(v.lower()) or re.sub(r"[\s-]+", "_", v.lower()) for v in values]
    ranked = sorted(roles, key=lambda r: ROLE_PRIORITY.index(r) if r in ROLE_PRIORITY else 99)
    return ranked[0] if ranked else None


def full_name(first: Any, last: Any, email: Any) -> str:
    name = " ".join(str(p).strip() for p in (first, last) if p and str(p).strip())
    return name or (str(email).split("@")[0] if email else "(no name)")
