"""Working hours: never at 3 a.m., weekends skipped, reminders counted in working time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.cases.workhours import (
    WorkHours,
    add_working_hours,
    is_working_moment,
    next_working_moment,
    working_hours_between,
)

NY, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
H = WorkHours()


def local(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def test_three_am_waits_for_the_working_day() -> None:
    three_am = local(NY, 2026, 3, 3, 3, 0)  # Tuesday
    assert next_working_moment(three_am, NY, H) == local(NY, 2026, 3, 3, 9, 0)
    assert not is_working_moment(three_am, NY, H)


def test_inside_hours_is_unchanged_and_result_is_utc() -> None:
    at = local(NY, 2026, 3, 3, 10, 30)
    got = next_working_moment(at, NY, H)
    assert got == at and got.tzinfo == dt.UTC


def test_evening_and_weekend_move_to_monday() -> None:
    friday_evening = local(NY, 2026, 3, 6, 18, 0)
    assert next_working_moment(friday_evening, NY, H) == local(NY, 2026, 3, 9, 9, 0)
    assert next_working_moment(local(NY, 2026, 3, 7, 12, 0), NY, H) == local(NY, 2026, 3, 9, 9)


def test_the_assignees_timezone_decides() -> None:
    at = dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)  # 09:00 New York, 23:00 Tokyo
    assert next_working_moment(at, NY, H) == at
    assert next_working_moment(at, TOKYO, H) == local(TOKYO, 2026, 3, 4, 9, 0)


def test_add_working_hours_spans_nights_and_weekends() -> None:
    thursday_4pm = local(NY, 2026, 3, 5, 16, 0)
    # 2 h Thursday, 9 h Friday, then Monday 09:00 + 13 h → Tuesday 13:00
    assert add_working_hours(thursday_4pm, 24, NY, H) == local(NY, 2026, 3, 10, 13, 0)
    assert add_working_hours(thursday_4pm, 2, NY, H) == local(NY, 2026, 3, 5, 18, 0)
    assert add_working_hours(local(NY, 2026, 3, 7, 3), 0, NY, H) == local(NY, 2026, 3, 9, 9)


def test_working_hours_between_is_the_inverse() -> None:
    start = local(NY, 2026, 3, 5, 16, 0)
    end = add_working_hours(start, 30, NY, H)
    assert working_hours_between(start, end, NY, H) == pytest.approx(30)
    assert working_hours_between(end, start, NY, H) == 0


def test_custom_hours_and_dst_change() -> None:
    early = WorkHours(start_hour=7, end_hour=15)
    assert next_working_moment(local(NY, 2026, 3, 3, 16), NY, early) == local(NY, 2026, 3, 4, 7)
    # US clocks move on Sunday 8 March 2026: Monday 09:00 is 13:00 UTC, not 14:00
    monday = next_working_moment(local(NY, 2026, 3, 8, 2, 0), NY, H)
    assert monday == dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)


def test_bad_hours_are_refused() -> None:
    with pytest.raises(ValueError):
        WorkHours(start_hour=18, end_hour=9)
    with pytest.raises(ValueError):
        WorkHours(days=frozenset())
