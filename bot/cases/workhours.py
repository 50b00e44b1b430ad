"""Working hours in a person's timezone: when a step may reach them, and how long they had.

Pure functions on aware datetimes. "Never at 3 a.m.": a moment outside the working day moves
to the start of the next one (weekends skipped); reminders count only working hours, so a
step DMed on Friday evening is not "24 hours late" on Saturday evening.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday


@dataclass(frozen=True)
class WorkHours:
    start_hour: int = 9
    end_hour: int = 18  # exclusive; 24 means midnight
    days: frozenset[int] = field(default=WEEKDAYS)

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError("working hours need 0 <= start < end <= 24")
        if not self.days:
            raise ValueError("at least one working day is needed")

    @classmethod
    def from_settings(cls, settings: object) -> WorkHours:
        return cls(
            start_hour=int(getattr(settings, "workday_start_hour", 9)),
            end_hour=int(getattr(settings, "workday_end_hour", 18)),
            days=frozenset(getattr(settings, "workday_numbers", WEEKDAYS)),
        )


def _day_bounds(day: dt.date, tz: ZoneInfo, hours: WorkHours) -> tuple[dt.datetime, dt.datetime]:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return (
        midnight + dt.timedelta(hours=hours.start_hour),
        midnight + dt.timedelta(hours=hours.end_hour),
    )


def is_working_moment(at: dt.datetime, tz: ZoneInfo, hours: WorkHours) -> bool:
    local = at.astimezone(tz)
    start, end = _day_bounds(local.date(), tz, hours)
    return local.weekday() in hours.days and start <= local < end


def next_working_moment(at: dt.datetime, tz: ZoneInfo, hours: WorkHours) -> dt.datetime:
    """`at` itself when inside working hours, else the start of the next working day (UTC)."""
    local = at.astimezone(tz)
    day = local.date()
    for _ in range(15):
        start, end = _day_bounds(day, tz, hours)
        if day.weekday() in hours.days and local < end:
            return max(local, start).astimezone(dt.UTC)
        day += dt.timedelta(days=1)
    raise AssertionError("no working day within two weeks")  # unreachable: days is non-empty


def add_working_hours(
    at: dt.datetime, amount_hours: float, tz: ZoneInfo, hours: WorkHours
) -> dt.datetime:
    """The moment `amount_hours` of working time after `at` (UTC)."""
    remaining = dt.timedelta(hours=max(0.0, amount_hours))
    cur = next_working_moment(at, tz, hours).astimezone(tz)
    while True:
        _, end = _day_bounds(cur.date(), tz, hours)
        available = end - cur
        if remaining <= available:
            return (cur + remaining).astimezone(dt.UTC)
        remaining -= available
        cur = next_working_moment(end, tz, hours).astimezone(tz)


def working_hours_between(
    start: dt.datetime, end: dt.datetime, tz: ZoneInfo, hours: WorkHours
) -> float:
    """Working hours elapsed from `start` to `end` (0 when end is not after start)."""
    total = dt.timedelta()
    cur = next_working_moment(start, tz, hours).astimezone(tz)
    end_local = end.astimezone(tz)
    while cur < end_local:
        _, day_end = _day_bounds(cur.date(), tz, hours)
        total += min(day_end, end_local) - cur
        cur = next_working_moment(day_end, tz, hours).astimezone(tz)
    return total.total_seconds() / 3600
