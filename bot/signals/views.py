"""What a suggestion DM shows, as plain values (pure): built by `suggestions.view`, rendered by
`blocks.suggestion_message`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class EvidenceLine:
    signal_type: str
    value: float | None
    previous: float | None
    text: str | None
    source: str
    at: dt.datetime
    why: str
    rule_name: str
    reason: str | None = None


@dataclass(frozen=True)
class SuggestionView:
    id: int
    status: str
    account_name: str
    risk_key: str
    playbook_name: str
    csm_user_id: str | None
    signal_count: int
    evidence: tuple[EvidenceLine, ...]
    case_id: int | None = None
    snoozed_until: dt.datetime | None = None
    cooldown_until: dt.datetime | None = None
    decided_by: str | None = None
    dismiss_reason: str | None = None
    outcome: str | None = None
