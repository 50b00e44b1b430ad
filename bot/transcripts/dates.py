"""Call date from a file name, so uploads need no extra question when the name carries it."""

from __future__ import annotations

import datetime as dt
import re

# Year first only (2026-11-20, 2026_11_20, 20261120, GMT20261120-…): day-first and
# month-first orders are ambiguous (02-03-2026), so we do not guess them.
_DATE = re.compile(r"(?<!\d)(20\d{2})([-_. ]?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])(?!\d)")


def guess_call_date(filename: str) -> dt.date | None:
    """The first valid year-month-day date in `filename`, or None."""
    for match in _DATE.finditer(filename):
        try:
            return dt.date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
        except ValueError:  # 2026-02-30
            continue
    return None
