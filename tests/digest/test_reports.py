"""Report metrics, period parsing, CSV, charts, and delivery when Slack refuses the upload."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from bot.devtools.standin.blockkit import validate_message_blocks
from bot.notify import DeliveryError
from bot.reports import charts
from bot.reports.blocks import report_message
from bot.reports.csv_export import COLUMNS, cases_csv
from bot.reports.metrics import CaseRow, CommitmentRow, Period, compute, summary_lines
from bot.reports.service import PeriodError, deliver, parse_period, send_report

TODAY = dt.date(2026, 11, 30)
PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def _case(
    i: int, outcome: str, step: int | None, playbook: str = "Missed commitment", days: int = 4
) -> CaseRow:
    opened = dt.datetime(2026, 11, 2 + i, 10, tzinfo=dt.UTC)
    resolved = opened + dt.timedelta(days=days) if outcome != "open" else None
    return CaseRow(
        i,
        "missed commitment",
        playbook,
        f"Cust {i}",
        "resolved",
        outcome,
        5,
        step,
        opened,
        resolved,
        context="=cmd|' /C calc'!A0",
        notes="n",
    )


def _commit(
    i: int,
    due: dt.date | None,
    done: dt.date | None,
    owner: str = "Maya",
    made: dt.date = dt.date(2026, 11, 3),
) -> CommitmentRow:
    return CommitmentRow(i, owner, "Acme", made, due, done, "done" if done else "open")


def sample():  # type: ignore[no-untyped-def]
    cases = [
        _case(1, "saved", 2),
        _case(2, "saved", 2),
        _case(3, "churned", None, days=10),
        _case(4, "open", None),
        _case(5, "saved", 1, "Champion left"),
    ]
    commits = [
        _commit(1, dt.date(2026, 11, 10), dt.date(2026, 11, 9)),  # on time
        _commit(2, dt.date(2026, 11, 10), dt.date(2026, 11, 12), "Li"),  # late
        _commit(3, dt.date(2026, 11, 10), None, "Li"),  # missed
        _commit(4, None, None),  # open, no date
        _commit(5, None, dt.date(2026, 11, 20)),  # done, no date → on time
        _commit(6, dt.date(2026, 10, 1), None, made=dt.date(2026, 10, 1)),  # other period
    ]
    return compute(PERIOD, cases, commits, TODAY)


def test_metrics() -> None:
    r = sample()
    assert len(r.cases) == 5 and r.saved == 3 and r.churned == 1 and r.still_open == 1
    assert r.resolution_rate == pytest.approx(0.6) and r.churn_rate == pytest.approx(0.2)
    assert r.median_days_to_resolve == pytest.approx(4.0)
    assert dict(r.resolution_steps["Missed commitment"]) == {2: 2}
    t = r.commitments
    assert (t.made, t.on_time, t.late, t.missed, t.open) == (5, 2, 1, 1, 1)
    assert r.by_owner["Li"].missed == 1 and r.by_owner["Maya"].on_time == 2
    text, blocks = report_message(r)
    assert validate_message_blocks(blocks) == [] and "60%" in str(blocks)
    assert any("Saved at step" in line for line in summary_lines(r))


def test_empty_period_says_so_and_draws_nothing() -> None:
    r = compute(PERIOD, [], [], TODAY)
    assert r.empty
    text, blocks = report_message(r)
    assert "Nothing in this period" in text and validate_message_blocks(blocks) == []
    assert charts.all_charts(r) == []
    assert "Nothing in this period" in summary_lines(r)[0]


def test_charts_are_png() -> None:
    made = charts.all_charts(sample())
    assert [m[0] for m in made] == ["resolution-by-step.png", "commitments-kept.png"]
    assert all(png.startswith(b"\x89PNG") for _, _, png in made)


def test_csv_columns_and_formula_safety() -> None:
    rows = list(csv.reader(io.StringIO(cases_csv(sample().cases))))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1][4].startswith("'=")  # never a live formula in a spreadsheet
    assert rows[3][6] == "yes" and rows[1][6] == "no" and rows[1][7] == "2"


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("", dt.date(2026, 11, 1), TODAY),
        ("7d", dt.date(2026, 11, 24), TODAY),
        ("2w", dt.date(2026, 11, 17), TODAY),
        ("last month", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
        ("this quarter", dt.date(2026, 10, 1), TODAY),
        ("2026-01-01..2026-03-31", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
    ],
)
def test_parse_period(text: str, since: dt.date, until: dt.date) -> None:
    assert parse_period(text, TODAY) == Period(since, until)


@pytest.mark.parametrize(
    "text", ["yesterday-ish", "0d", "2026-03-01..2026-01-01", "2026-02-30..2026-03-01"]
)
def test_bad_periods_explain(text: str) -> None:
    with pytest.raises(PeriodError, match="cs-report"):
        parse_period(text, TODAY)


def test_refused_upload_still_delivers_text(notifier) -> None:  # type: ignore[no-untyped-def]
    notifier.upload_error = DeliveryError("nope", retryable=False, code="file_uploads_disabled")
    problems = deliver(notifier, "T0TEST", "U0ANA", sample())
    assert len(problems) == 2
    assert len(notifier.dms) == 1 and "CS report" in notifier.dms[0][2]
    assert "could not be posted" in notifier.posts[-1][1]


def test_report_from_rows(rt, rows, notifier) -> None:  # type: ignore[no-untyped-def]
    acct = rows.account()
    rows.case_with_step("U0MAYA", acct)
    rows.commitment("U0MAYA", "x", dt.date(2020, 1, 1))
    today = dt.datetime.now(dt.UTC).date()
    send_report(rt.engine, notifier, "T0TEST", "U0ANA", parse_period("", today), today)
    assert "1 cases" in notifier.dms[0][2] and len(notifier.uploads) == 1  # no saved case yet


def test_period_days_end_at_the_teams_midnight() -> None:
    """At 00:30 UTC it is still yesterday in New York: a commitment made then is in the
    period that ends 'today' there (UTC bounds would drop it and a chart with it)."""
    from bot.reports.service import _bounds

    start, end = _bounds(Period(dt.date(2026, 12, 1), dt.date(2026, 12, 1), "America/New_York"))
    assert start == dt.datetime(2026, 12, 1, 5, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 2, 5, tzinfo=dt.UTC)
    made = dt.datetime(2026, 12, 2, 0, 30, tzinfo=dt.UTC)
    assert start <= made < end
