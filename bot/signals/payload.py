"""The inbound signal format, `followthrough.signal/v1`, as pydantic models (pure).

One signal, or `{"schema": …, "signals": [ … ]}` for a batch:

    {"schema": "followthrough.signal/v1",
     "idempotency_key": "vitally:pb_123:acct_987:2026-07-14T09:00:00Z",
     "source": "vitally", "source_event_id": "pb_123-run_456",
     "account": {"key": "acme.com", "external_ids": {"hubspot": "123"}},
     "signal": {"type": "health_score", "value": 42, "previous_value": 71, "unit": "score_0_100"},
     "occurred_at": "2026-07-14T09:00:00Z",
     "context": {"reason": "Usage down 40% WoW", "url": "https://app.vitally.io/…"}}

The account may also be a bare string (CRM id, domain or name). The idempotency key defaults
to `(source, source_event_id)`, else the delivery's `webhook-id` (plus the item's index in a
batch), so a sender's retry stores nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA = "followthrough.signal/v1"
MAX_BATCH = 1000
MAX_CONTEXT_CHARS = 4000


class AccountRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str | None = Field(default=None, max_length=200)
    external_ids: dict[str, str] = Field(default_factory=dict)
    domain: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)

    def keys(self) -> list[str]:
        """Every way this account may be known, most specific first."""
        out = [str(v) for v in self.external_ids.values() if v]
        out += [k for k in (self.key, self.domain, self.name) if k]
        return out


class SignalBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=64)
    value: float | str | bool | None = None
    previous_value: float | str | None = None
    unit: str | None = Field(default=None, max_length=32)
    severity: str | None = Field(default=None, max_length=16)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return value.strip().lower().replace(" ", "_")


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_: str | None = Field(default=None, alias="schema")
    idempotency_key: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=40)
    source_event_id: str | None = Field(default=None, max_length=150)
    account: AccountRef
    signal: SignalBody
    occurred_at: dt.datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("account", mode="before")
    @classmethod
    def _account(cls, value: Any) -> Any:
        return {"key": value} if isinstance(value, str) else value

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        if value is not None and value != SCHEMA:
            raise ValueError(f"schema must be '{SCHEMA}'")
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_CONTEXT_CHARS:
            raise ValueError(f"context is larger than {MAX_CONTEXT_CHARS} characters")
        return value


@dataclass(frozen=True)
class Parsed:
    """A signal ready to store (the row's fields)."""

    idempotency_key: str
    source: str
    account_key: str
    account_keys: tuple[str, ...]
    signal_type: str
    value: float | None
    previous_value: float | None
    value_text: str | None
    unit: str | None
    occurred_at: dt.datetime
    context: dict[str, Any]


class PayloadError(ValueError):
    """Unusable JSON; the message (safe to return to the sender) says what is wrong."""


def _number(value: Any) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ("true" if value else "false")
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        try:
            return float(value), None
        except ValueError:
            return None, value[:200]
    return None, None


def _utc(at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if at is None:
        return now
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def to_parsed(item: SignalIn, *, source: str, fallback_key: str, now: dt.datetime) -> Parsed:
    keys = item.account.keys()
    if not keys:
        raise PayloadError("account needs a key (CRM id, domain or name)")
    value, text = _number(item.signal.value)
    previous, _ = _number(item.signal.previous_value)
    src = (item.source or source)[:40]
    key = item.idempotency_key or (
        f"{src}:{item.source_event_id}" if item.source_event_id else fallback_key
    )
    context = dict(item.context)
    if item.signal.severity:
        context.setdefault("severity", item.signal.severity)
    if item.source_event_id:
        context.setdefault("source_event_id", item.source_event_id)
    return Parsed(
        idempotency_key=key[:200],
        source=src,
        account_key=keys[0][:200],
        account_keys=tuple(k[:200] for k in keys),
        signal_type=item.signal.type,
        value=value,
        previous_value=previous,
        value_text=text,
        unit=item.signal.unit,
        occurred_at=_utc(item.occurred_at, now),
        context=context | ({"account_keys": keys[1:]} if len(keys) > 1 else {}),
    )


def _errors(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{prefix}{where}: {err['msg']}")
    return "; ".join(parts)


def parse_body(data: Any, *, source: str, delivery_id: str, now: dt.datetime) -> list[Parsed]:
    """The signals in a decoded JSON body; PayloadError says what is wrong with it."""
    if isinstance(data, dict) and isinstance(data.get("signals"), list):
        items = data["signals"]
        if not items:
            raise PayloadError("signals is empty")
        if len(items) > MAX_BATCH:
            raise PayloadError(f"at most {MAX_BATCH} signals per request (got {len(items)})")
        out = []
        for n, raw in enumerate(items):
            try:
                item = SignalIn.model_validate(raw)
            except ValidationError as exc:
                raise PayloadError(_errors(exc, f"signals[{n}].")) from None
            out.append(to_parsed(item, source=source, fallback_key=f"{delivery_id}:{n}", now=now))
        return out
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object in the {SCHEMA} format")
    try:
        item = SignalIn.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(_errors(exc)) from None
    return [to_parsed(item, source=source, fallback_key=delivery_id, now=now)]
