"""Render each report chart from a realistic sample quarter into bench/out/ (for the issue's
closing note). Usage: python bench/charts_sample.py"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.reports import charts  # noqa: E402
from bot.reports.metrics import CaseRow, CommitmentRow, Period, compute  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
PLAYBOOKS = {"Missed commitment": (2, 0.8), "Champion left": (3, 0.6), "Usage dip": (2, 0.7)}


def sample(seed: int = 7) -> tuple[Period, list[CaseRow], list[CommitmentRow]]:
    rnd = random.Random(seed)
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    cases = []
    for i in range(60):
        playbook = rnd.choice(list(PLAYBOOKS))
        typical, save_rate = PLAYBOOKS[playbook]
        opened = dt.datetime(2026, 7, 1, tzinfo=dt.UTC) + dt.timedelta(days=rnd.randrange(85))
        saved = rnd.random() < save_rate
        step = max(1, min(5, round(rnd.gauss(typical, 1)))) if saved else None
        cases.append(
            CaseRow(
                i,
                playbook.lower(),
                playbook,
                f"Customer {i}",
                "resolved",
                "saved" if saved else "churned",
                5,
                step,
                opened,
                opened + dt.timedelta(days=rnd.randrange(3, 30)),
            )
        )
    commits = []
    for i in range(400):
        made = period.since + dt.timedelta(days=rnd.randrange(90))
        due = made + dt.timedelta(days=rnd.randrange(2, 15))
        roll = rnd.random()
        done = (
            due - dt.timedelta(days=rnd.randrange(0, 2))
            if roll < 0.7
            else due + dt.timedelta(days=rnd.randrange(1, 6))
            if roll < 0.85
            else None
        )
        commits.append(
            CommitmentRow(
                i,
                rnd.choice(["Maya", "Li", "Omar"]),
                "Acme",
                made,
                due,
                done,
                "done" if done else "open",
            )
        )
    return period, cases, commits


def main() -> None:
    period, cases, commits = sample()
    report = compute(period, cases, commits, dt.date(2026, 10, 15))
    OUT.mkdir(exist_ok=True)
    for filename, title, png in charts.all_charts(report):
        (OUT / filename).write_bytes(png)
        print(f"{title}: {OUT / filename} ({len(png) // 1024} kB)")


if __name__ == "__main__":
    main()
