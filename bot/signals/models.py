"""Tables of the signals domain (all prefixed `signal_`).

A signal is stored the moment it arrives (`status = new`) and evaluated by the worker; the
`(status, id)` index makes a tick with nothing new one index probe. A suggestion's
`active_key` is set while it is open, snoozed or running as a case and NULL afterwards, so a
plain unique constraint on `(team_id, active_key)` lets the database itself refuse a second
open suggestion for the same account and risk (NULLs never collide).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.models import _created, _json, _text, _ts
from bot.states import Machine


class SignalStatus(StrEnum):
    NEW = "new"  # stored, not evaluated yet
    EVALUATED = "evaluated"  # matched to an account and run through the rules
    UNMATCHED = "unmatched"  # no account for its key: kept, shown to CS admins to map
    ACCOUNT_DELETED = "account_deleted"  # its account was deleted or merged away


class SuggestionStatus(StrEnum):
    OPEN = "open"  # DM sent (or being sent) to the CSM, waiting for a decision
    SNOOZED = "snoozed"  # "Not now": asked again at `snoozed_until`
    STARTING = "starting"  # Start plan clicked; the case is being drafted
    STARTED = "started"  # a case runs for it (`case_id`)
    DISMISSED = "dismissed"  # with a reason; remembered until `cooldown_until`
    CLOSED = "closed"  # its case closed (saved / churned / cancelled)


ACTIVE_SUGGESTION = (
    SuggestionStatus.OPEN,
    SuggestionStatus.SNOOZED,
    SuggestionStatus.STARTING,
    SuggestionStatus.STARTED,
)


class SignalSource(SQLModel, table=True):
    """A sender with its own secret (`POST /signals/<key>`), or a weaker URL token."""

    __tablename__ = "signal_source"
    __table_args__ = (sa.UniqueConstraint("team_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    key: str = Field(max_length=40)
    adapter: str = Field(default="generic", max_length=32)  # generic | zendesk | …
    secret: str | None = Field(default=None, max_length=200)  # whsec_… or the vendor's secret
    url_token: str | None = Field(default=None, max_length=100)  # weaker: for tools that can't sign
    created_by: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _created()
    last_seen_at: dt.datetime | None = _ts(nullable=True)


class SignalEvent(SQLModel, table=True):
    __tablename__ = "signal_event"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "idempotency_key"),
        sa.Index("ix_signal_event_status", "status", "id"),
        # covering: a rule's window (count, max, min of value) is read from the index alone
        sa.Index(
            "ix_signal_event_history",
            "team_id",
            "account_id",
            "signal_type",
            "occurred_at",
            "value",
            "status",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    source: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=200)
    webhook_id: str | None = Field(default=None, max_length=200)
    webhook_ts: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    auth: str = Field(default="signed", max_length=16)  # signed | token | cli | import | builtin
    account_key: str = Field(max_length=200)
    account_id: int | None = None  # no FK: the signal outlives a deleted account
    signal_type: str = Field(max_length=64)
    value: float | None = None
    previous_value: float | None = None
    value_text: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=32)
    occurred_at: dt.datetime = _created()
    received_at: dt.datetime = _created()
    context: dict[str, Any] = _json()
    status: str = Field(default=SignalStatus.NEW, max_length=16)
    evaluated_at: dt.datetime | None = _ts(nullable=True)


class SignalAlias(SQLModel, table=True):
    """An account key a CS admin mapped by hand (e.g. a Zendesk organisation id)."""

    __tablename__ = "signal_alias"
    __table_args__ = (sa.UniqueConstraint("team_id", "account_key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account_key: str = Field(max_length=200)
    account_id: int = Field(foreign_key="account.id")
    created_by: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _created()


class SignalRule(SQLModel, table=True):
    """A rule in force for a team: replaced only by a file that validates."""

    __tablename__ = "signal_rule"
    __table_args__ = (sa.UniqueConstraint("team_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    key: str = Field(max_length=64)
    version: int = 1
    definition: dict[str, Any] = _json()
    source: str = Field(default="", max_length=255)
    sha256: str = Field(default="", max_length=64)
    retired: bool = False
    loaded_at: dt.datetime = _created()


class SignalRuleset(SQLModel, table=True):
    """Per team: what the rules folder looked like when last read, and its problems."""

    __tablename__ = "signal_ruleset"
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True)
    fingerprint: str = Field(default="", max_length=64)
    problems: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    checked_at: dt.datetime = _created()


class SignalCursor(SQLModel, table=True):
    """How far a built-in signal scan has read (an audit id, a date …)."""

    __tablename__ = "signal_cursor"
    __table_args__ = (sa.UniqueConstraint("team_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=64)
    position: str = Field(default="", max_length=64)
    updated_at: dt.datetime = _created()


class SignalSuggestion(SQLModel, table=True):
    __tablename__ = "signal_suggestion"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "active_key"),
        sa.Index("ix_signal_suggestion_status", "status", "snoozed_until"),
        sa.Index("ix_signal_suggestion_account", "team_id", "account_id", "risk_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account_id: int = Field(foreign_key="account.id")
    risk_key: str = Field(max_length=64)
    playbook_key: str = Field(max_length=64)
    rule_key: str = Field(max_length=64)  # the rule that opened it
    active_key: str | None = Field(default=None, max_length=100)
    status: str = Field(default=SuggestionStatus.OPEN, max_length=16)
    csm_user_id: str | None = Field(default=None, max_length=32)
    signal_count: int = 0
    first_signal_at: dt.datetime | None = _ts(nullable=True)
    last_signal_at: dt.datetime | None = _ts(nullable=True)
    snoozed_until: dt.datetime | None = _ts(nullable=True)
    cooldown_until: dt.datetime | None = _ts(nullable=True)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    outcome: str | None = Field(default=None, max_length=16)  # saved | churned | cancelled
    dismiss_reason: str | None = _text(nullable=True)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: dt.datetime | None = _ts(nullable=True)
    # the CSM's DM goes through the outbox under `dm_key`; where it landed is kept here
    dm_key: str | None = Field(default=None, max_length=200)
    dm_channel: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class SignalEvidence(SQLModel, table=True):
    """Which signals (and which rule) fed a suggestion: "what fired and why"."""

    __tablename__ = "signal_evidence"
    __table_args__ = (sa.UniqueConstraint("suggestion_id", "signal_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    suggestion_id: int = Field(foreign_key="signal_suggestion.id", index=True)
    signal_id: int = Field(foreign_key="signal_event.id", index=True)
    rule_key: str = Field(max_length=64)
    why: str = Field(default="", max_length=300)
    suppressed: bool = False  # arrived while dismissed (cooldown): counted, not shown again
    created_at: dt.datetime = _created()


# --- the state machines (every status write goes through bot.states.move / move_rows) -----

N, SS = SignalStatus, SuggestionStatus
SIGNAL = Machine(
    "signal",
    SignalEvent.__table__,  # type: ignore[attr-defined]
    {
        "evaluate": {N.NEW: N.EVALUATED},
        "unmatched": {N.NEW: N.UNMATCHED},
        "account_deleted": {N.NEW: N.ACCOUNT_DELETED},
        "remap": {N.UNMATCHED: N.NEW},  # a CS admin mapped its key: evaluate it again
    },
)
SUGGESTION = Machine(
    "suggestion",
    SignalSuggestion.__table__,  # type: ignore[attr-defined]
    {
        "snooze": {SS.OPEN: SS.SNOOZED},
        "wake": {SS.SNOOZED: SS.OPEN},
        "start": {SS.OPEN: SS.STARTING, SS.SNOOZED: SS.STARTING},
        "started": {SS.STARTING: SS.STARTED},
        "start_failed": {SS.STARTING: SS.OPEN},
        "dismiss": {SS.OPEN: SS.DISMISSED, SS.SNOOZED: SS.DISMISSED},
        "close": {SS.STARTED: SS.CLOSED},
    },
    refused="This suggestion is already {state}; nothing to {action}.",
)
