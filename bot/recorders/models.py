"""The recorders domain's table lives in `bot.models` (one metadata, no import cycle); this
module names it for the domain and holds its state machine."""

from __future__ import annotations

from bot.models import DeliveryStatus, RecorderDelivery
from bot.states import Machine

__all__ = ["DELIVERY", "DeliveryStatus", "RecorderDelivery"]

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
