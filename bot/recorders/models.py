"""The recorders domain's table: one row per recorded transcript a recorder told us about.

The unique `(team_id, vendor, external_id)` key (Zoom: meeting UUID + recording file id) makes
duplicate deliveries find the row instead of downloading twice. The row is the download job
(status, attempts, lease); once the bytes are in, it hands a `Transcript` to capture.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.models import _created, _text, _ts
from bot.states import Machine


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) download attempt at `next_attempt_at`
    DOWNLOADING = "downloading"  # claimed (lease in `lease_until`)
    DONE = "done"  # a Transcript row exists (`transcript_id`)
    FAILED = "failed"  # gave up; the host was told


class RecorderDelivery(SQLModel, table=True):
    __tablename__ = "recorder_delivery"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "vendor", "external_id"),
        sa.Index("ix_recorder_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    vendor: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    topic: str = Field(default="", max_length=300)
    host_email: str | None = Field(default=None, max_length=255)
    host_user_id: str | None = Field(default=None, max_length=32)
    participants: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    started_at: dt.datetime | None = _ts(nullable=True)
    filename: str = Field(default="", max_length=255)
    download_url: str | None = _text(nullable=True)
    download_token: str | None = _text(nullable=True)  # a secret: never logged
    content: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    account_id: int | None = Field(default=None, foreign_key="account.id")
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = _ts(nullable=True)
    lease_until: dt.datetime | None = _ts(nullable=True)
    error: str | None = _text(nullable=True)
    transcript_id: int | None = Field(default=None, foreign_key="transcript.id")
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


D = DeliveryStatus
DELIVERY = Machine(
    "recorder delivery",
    RecorderDelivery.__table__,  # type: ignore[attr-defined]
    {
        "claim": {D.PENDING: D.DOWNLOADING, D.DOWNLOADING: D.DOWNLOADING},  # a lease expired
        "done": {D.DOWNLOADING: D.DONE},
        "retry": {D.DOWNLOADING: D.PENDING},
        "fail": {D.DOWNLOADING: D.FAILED},
    },
)
