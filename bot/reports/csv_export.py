"""The case log as CSV, with the columns a team would keep in its own sheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from bot.reports.metrics import CaseRow

COLUMNS = (
    "risk",
    "playbook",
    "customer",
    "playbook link",
    "situation context",
    "total steps",
    "churned",
    "step of resolution",
    "notes",
    "opened",
    "resolved",
)


def _row(c: CaseRow) -> list[str]:
    churned = {"churned": "yes", "saved": "no"}.get(c.outcome, "")
    return [
        c.risk,
        c.playbook,
        c.customer,
        c.playbook_link,
        c.context,
        str(c.total_steps),
        churned,
        str(c.resolution_step or ""),
        c.notes,
        c.opened.date().isoformat(),
        c.resolved.date().isoformat() if c.resolved else "",
    ]


def write_cases(rows: Iterable[CaseRow], out: io.TextIOBase | io.StringIO) -> int:
    """Write header + rows; returns how many rows. Cells starting with = + - @ are quoted
    with a leading apostrophe so a spreadsheet never runs them as formulas."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    for c in rows:
        writer.writerow([_safe(v) for v in _row(c)])
        n += 1
    return n


def _safe(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def cases_csv(rows: Iterable[CaseRow]) -> str:
    buf = io.StringIO()
    write_cases(rows, buf)
    return buf.getvalue()
