"""Playbook delays as short human strings ("0", "4h", "2d", "1d12h", "1w") and back.

Delays are written by CS people in YAML, so the syntax is deliberately tiny: whole numbers
with the units w, d, h, m, largest first, optionally separated by spaces. Seconds and
fractions are not accepted: nobody plans a customer follow-up to the second.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, timedelta] = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_PART = re.compile(r"(\d+)\s*([wdhm])")
_WHOLE = re.compile(r"^(?:\d+\s*[wdhm]\s*)+$")
MAX_DELAY = timedelta(days=365)
DELAY_HINT = "use e.g. 0, 4h, 2d, 1w"


class DelayError(ValueError):
    """A delay string that is not a duration; the message is safe to show to users."""


def parse_delay(value: str | int) -> timedelta:
    """Parse "0", "30m", "4h", "2d", "1w", "1d12h" or "1d 12h" into a timedelta.

    YAML turns a bare `0` into an int, so the int 0 is accepted too; any other bare number
    is refused because "5" could mean minutes, hours or days.
    """
    if isinstance(value, bool):
        raise DelayError(f"delay '{value}' is not a duration; {DELAY_HINT}")
    if isinstance(value, int):
        if value == 0:
            return timedelta(0)
        raise DelayError(f"delay '{value}' needs a unit; {DELAY_HINT}")
    text = str(value).strip().lower()
    if text == "0":
        return timedelta(0)
    if not text or not _WHOLE.match(text):
        raise DelayError(f"delay '{value}' is not a duration; {DELAY_HINT}")
    units = [unit for _, unit in _PART.findall(text)]
    order = list(_UNITS)
    if len(set(units)) != len(units) or units != sorted(units, key=order.index):
        raise DelayError(
            f"delay '{value}' repeats or mixes up units; write the largest first, "
            "e.g. 1w2d or 1d12h"
        )
    total = sum((int(n) * _UNITS[u] for n, u in _PART.findall(text)), timedelta(0))
    if total > MAX_DELAY:
        raise DelayError(f"delay '{value}' is longer than a year")
    return total


def format_delay(delta: timedelta) -> str:
    """Format a timedelta the way `parse_delay` reads it: "0", "4h", "1d 12h", "2w 3d".

    Seconds are dropped (delays are whole minutes); negative values are refused because a
    step cannot happen before the one it follows.
    """
    if delta < timedelta(0):
        raise ValueError("a delay cannot be negative")
    minutes = int(delta.total_seconds() // 60)
    parts: list[str] = []
    for unit, size in _UNITS.items():
        count, minutes = divmod(minutes, int(size.total_seconds() // 60))
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0"
