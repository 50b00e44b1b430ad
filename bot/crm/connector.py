"""One interface for every CRM: what the sync reads and what the write-back writes.

A connector speaks one vendor's API and hands back plain records; it keeps no state of its
own beyond an access token. The sync (`bot.crm.service`) decides what the records mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class CrmError(RuntimeError):
    """A CRM call that failed; `retryable` says whether the same call may work later."""

    def __init__(self, message: str, *, retryable: bool, http_status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status


class CrmAuthError(CrmError):
    """The token was refused and could not be refreshed: someone must reconnect the CRM."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, http_status=401)


@dataclass(frozen=True)
class Owner:
    id: str
    email: str | None
    name: str | None
    active: bool = True


@dataclass
class Record:
    """One company or contact as the CRM has it (`props` keyed by the CRM's field names)."""

    id: str
    props: dict[str, Any]
    modified_at: dt.datetime | None = None
    company_id: str | None = None  # contacts: the (primary) company
    deleted: bool = False
    merged_into: str | None = None  # a record merged away: the id of the one that survived
    merged_ids: list[str] = field(default_factory=list)  # a survivor: the ids merged into it


@dataclass
class Page:
    """Records plus the cursor that follows them: the sync stores both in one transaction."""

    records: list[Record]
    cursor: dict[str, Any]


@dataclass(frozen=True)
class TaskSpec:
    key: str  # our external id, kept by the CRM on the task
    subject: str
    body: str
    due: dt.date
    status: str  # open | done | deferred
    owner_id: str | None
    company_id: str | None
    contact_id: str | None


@dataclass(frozen=True)
class NoteSpec:
    key: str
    title: str
    body: str
    at: dt.datetime
    owner_id: str | None
    company_id: str


@dataclass(frozen=True)
class Remote:
    id: str
    status: str | None = None


KINDS = ("company", "contact")


class CrmConnector(Protocol):
    vendor: str

    @property
    def requests(self) -> int:
        """HTTP requests made (the benchmark and the sync report read it)."""
        ...

    @property
    def portal(self) -> str | None:
        """HubSpot portal id / Salesforce instance URL, for record links."""
        ...

    def check(self) -> list[str]:
        """Connect (auth) and report mapped fields the CRM lacks or types it disagrees on."""
        ...

    def drop_properties(self, names: set[str]) -> None:
        """Leave out mapped fields the CRM lacks (what `check` reported)."""
        ...

    def owners(self) -> Iterator[Owner]: ...

    def changes(self, kind: str, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        """Records of `kind` changed since `cursor` ({} = everything), page by page."""
        ...

    def renewals(self, cursor: dict[str, Any], now: dt.datetime) -> Iterator[Page]:
        """Renewal dates that come from another object (Salesforce Opportunities):
        records are companies whose renewal changed, props {'renewal_date': …}."""
        ...

    def deletions(self, kind: str) -> Iterator[list[Record]]:
        """Deleted records the change stream does not show (HubSpot's archived listing)."""
        ...

    def find(self, kind: str, key: str) -> Remote | None:
        """A task or note we wrote earlier, by our external id (consistent read)."""
        ...

    def create_task(self, spec: TaskSpec) -> Remote: ...

    def update_task(self, task_id: str, spec: TaskSpec) -> None: ...

    def create_note(self, spec: NoteSpec) -> Remote: ...

    def close(self) -> None: ...


def record_url(
    vendor: str, portal: str | None, app_url: str, kind: str, record_id: str
) -> str | None:
    """A link a person can open: HubSpot needs the portal id, Salesforce the instance URL."""
    if not portal or not record_id:
        return None
    if vendor == "hubspot":
        object_type = "0-2" if kind == "company" else "0-1"
        return f"{app_url.rstrip('/')}/contacts/{portal}/record/{object_type}/{record_id}"
    sobject = "Account" if kind == "company" else "Contact"
    return f"{portal.rstrip('/')}/lightning/r/{sobject}/{record_id}/view"
