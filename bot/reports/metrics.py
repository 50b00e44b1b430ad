"""Pure report computations over plain rows: no database, no Slack, easy to test.

Definitions (also shown in the report):
- a case counts in a period when it was *opened* in it; resolution rate = saved / cases,
  churn rate = churned / cases; time to resolve = resolved_at − opened_at of closed cases;
- a commitment counts when it was *made* (confirmed) in the period; kept on time = done on or
  before its due date (or done, with no due date); kept late = done after it; missed = still
  open after its due date as of the report's end.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CaseRow:
    id: int
    risk: str
    playbook: str
    customer: str
    status: str
    outcome: str  # open | saved | churned
    total_steps: int
    resolution_step: int | None
    opened: dt.datetime
    resolved: dt.datetime | None
    context: str = ""
    notes: str = ""
    playbook_link: str = ""
    owner: str | None = None


@dataclass(frozen=True)
class CommitmentRow:
    id: int
    owner: str
    account: str
    made: dt.date
    due: dt.date | None
    done: dt.date | None
    status: str  # open | done


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date  # inclusive
    tz: str = "UTC"  # whose days these are: a day ends at local midnight, not UTC's

    def __contains__(self, day: dt.date) -> bool:
        return self.since <= day <= self.until

    @property
    def label(self) -> str:
        return f"{self.since.isoformat()} – {self.until.isoformat()}"


@dataclass
class Tally:
    made: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0
    open: int = 0

    @property
    def kept_rate(self) -> float | None:
        closed = self.on_time + self.late + self.missed
        return self.on_time / closed if closed else None


@dataclass
class Report:
    period: Period
    cases: list[CaseRow]
    by_risk: Counter[str] = field(default_factory=Counter)
    by_playbook: Counter[str] = field(default_factory=Counter)
    saved: int = 0
    churned: int = 0
    still_open: int = 0
    median_days_to_resolve: float | None = None
    resolution_steps: dict[str, Counter[int]] = field(default_factory=dict)
    commitments: Tally = field(default_factory=Tally)
    by_owner: dict[str, Tally] = field(default_factory=dict)
    by_account: dict[str, Tally] = field(default_factory=dict)
    weekly: dict[dt.date, Tally] = field(default_factory=dict)  # week start → tally
    signals: Any = None  # bot.signals.service.Funnel: signals → suggestions → cases → outcomes

    @property
    def empty(self) -> bool:
        return (
            not self.cases
            and self.commitments.made == 0
            and not (self.signals and (self.signals.signals or self.signals.rule_problems))
        )

    @property
    def resolution_rate(self) -> float | None:
        return self.saved / len(self.cases) if self.cases else None

    @property
    def churn_rate(self) -> float | None:
        return self.churned / len(self.cases) if self.cases else None


def classify(c: CommitmentRow, as_of: dt.date) -> str:
    """on_time | late | missed | open — as of `as_of`."""
    if c.status == "done" and c.done is not None:
        return "late" if c.due is not None and c.done > c.due else "on_time"
    if c.due is not None and c.due < as_of:
        return "missed"
    return "open"


def _add(tally: Tally, kind: str) -> None:
    tally.made += 1
    setattr(tally, kind, getattr(tally, kind) + 1)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def compute(
    period: Period, cases: list[CaseRow], commitments: list[CommitmentRow], as_of: dt.date
) -> Report:
    """Everything `/cs-report` shows for `period`, as of `as_of` (usually today)."""
    end = min(as_of, period.until + dt.timedelta(days=1))
    in_cases = [c for c in cases if c.opened.date() in period]
    report = Report(period, in_cases)
    durations = []
    steps: dict[str, Counter[int]] = defaultdict(Counter)
    for c in in_cases:
        report.by_risk[c.risk] += 1
        report.by_playbook[c.playbook] += 1
        if c.outcome == "saved":
            report.saved += 1
            if c.resolution_step:
                steps[c.playbook][c.resolution_step] += 1
        elif c.outcome == "churned":
            report.churned += 1
        else:
            report.still_open += 1
        if c.resolved is not None and c.outcome in ("saved", "churned"):
            durations.append((c.resolved - c.opened).total_seconds() / 86400)
    report.median_days_to_resolve = statistics.median(durations) if durations else None
    report.resolution_steps = dict(steps)
    for m in commitments:
        if m.made not in period:
            continue
        kind = classify(m, end)
        _add(report.commitments, kind)
        _add(report.by_owner.setdefault(m.owner, Tally()), kind)
        _add(report.by_account.setdefault(m.account, Tally()), kind)
        _add(report.weekly.setdefault(week_start(m.made), Tally()), kind)
    report.weekly = dict(sorted(report.weekly.items()))
    return report


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def summary_lines(r: Report) -> list[str]:
    """Plain lines for the CLI (Slack gets blocks built from the same numbers)."""
    if r.empty:
        return [
            f"Nothing in this period ({r.period.label}): no cases opened and no commitments made."
        ]
    lines = [f"Report for {r.period.label}", ""]
    lines.append(
        f"Cases opened: {len(r.cases)} · saved {r.saved} · churned {r.churned} · "
        f"open {r.still_open}"
    )
    lines.append(
        f"Resolution rate {pct(r.resolution_rate)} · churn rate {pct(r.churn_rate)} · "
        "median time to resolve "
        + (f"{r.median_days_to_resolve:.1f} days" if r.median_days_to_resolve is not None else "—")
    )
    for title, counter in (("By risk", r.by_risk), ("By playbook", r.by_playbook)):
        if counter:
            lines.append(f"{title}: " + ", ".join(f"{k} {v}" for k, v in counter.most_common()))
    for playbook, steps in sorted(r.resolution_steps.items()):
        lines.append(
            f"Saved at step — {playbook}: "
            + ", ".join(f"step {s}: {n}" for s, n in sorted(steps.items()))
        )
    t = r.commitments
    lines += [
        "",
        f"Commitments made: {t.made} · kept on time {t.on_time} · kept late {t.late} "
        f"· missed {t.missed} · still open {t.open}",
    ]
    for title, groups in (("By owner", r.by_owner), ("By account", r.by_account)):
        lines.append(f"{title}:")
        for name, tally in sorted(groups.items(), key=lambda kv: (-kv[1].made, kv[0]))[:25]:
            lines.append(
                f"  {name}: made {tally.made}, on time {tally.on_time}, "
                f"late {tally.late}, missed {tally.missed}, open {tally.open}"
            )
    return lines
