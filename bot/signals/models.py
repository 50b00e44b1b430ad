"""The signals domain's tables live in `bot.models` (one metadata, no import cycle); this
module names them for the domain and holds their state machines: every status write goes
through `bot.states.move` / `move_rows` with one of these transitions. `SignalError` is the
refusal every layer of the domain raises (shown to the person who tried)."""

from __future__ import annotations

from bot.models import (
    ACTIVE_SUGGESTION,
    SignalAlias,
    SignalCursor,
    SignalEvent,
    SignalEvidence,
    SignalRule,
    SignalRuleset,
    SignalSource,
    SignalStatus,
    SignalSuggestion,
    SuggestionStatus,
)
from bot.states import Machine

__all__ = [
    "ACTIVE_SUGGESTION",
    "SIGNAL",
    "SUGGESTION",
    "SignalAlias",
    "SignalError",
    "SignalCursor",
    "SignalEvent",
    "SignalEvidence",
    "SignalRule",
    "SignalRuleset",
    "SignalSource",
    "SignalStatus",
    "SignalSuggestion",
    "SuggestionStatus",
]


class SignalError(ValueError):
    """A refused signal action; the message is shown to the person who tried it."""


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
