"""The contract of the LLM step: what an engine receives and what it must return.

Both engines (offline `rules`, and `openai`) return the same validated pydantic models, so
callers never know or care which one answered.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from bot.transcripts.model import Utterance


class Side(StrEnum):
    OURS = "ours"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class Category(StrEnum):
    INTEGRATION = "integration"  # integration or configuration work
    MILESTONE = "milestone"  # a success milestone
    RISK = "risk"  # a risk acknowledgement
    RENEWAL = "renewal"  # a renewal prerequisite
    FOLLOW_UP = "follow_up"  # send a resource or follow up
    OTHER = "other"


class Commitment(BaseModel):
    """One promise made on a call, with the quote that proves it."""

    owner: str | None = Field(description="Speaker as named in the transcript, or null if unclear")
    side: Side = Side.UNKNOWN
    text: str = Field(min_length=3, max_length=300, description="Self-contained one-line promise")
    due: dt.date | None = None
    due_phrase: str | None = None
    category: Category = Category.OTHER
    evidence: str = Field(min_length=1, description="The quote exactly as spoken")
    confidence: float = Field(ge=0.0, le=1.0, default=0.5)
    utterance_index: int | None = Field(default=None, description="Index of the evidence utterance")


class ExtractionResult(BaseModel):
    """What an engine found; `fallback_reason` is set when another engine's answer was used."""

    engine: str
    commitments: list[Commitment]
    fallback_reason: str | None = None


class CallContext(BaseModel):
    """Facts that help an engine: when the call happened and which side each speaker is on."""

    call_date: dt.date
    our_speakers: list[str] = Field(default_factory=list)
    customer_speakers: list[str] = Field(default_factory=list)
    account_name: str | None = None


class ExtractionEngine(Protocol):
    name: str

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult: ...


class LLMError(RuntimeError):
    """The LLM step could not produce an answer; the message is safe to show to users."""
