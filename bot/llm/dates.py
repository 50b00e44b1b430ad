"""Find the due phrase in a spoken sentence and turn it into a calendar date.

Resolution is always relative to the call date and never lands before it, because a promise made
on a call is about the future. Conventions (chosen to match how people speak on calls):

* a bare weekday ("by Friday", "on Tue") is its next occurrence strictly after the call date,
  so "Friday" said on a Friday means the following Friday;
* "next <weekday>" is that weekday in the following calendar week (Monday-based), e.g. on
  Monday 3 Nov "next Friday" is 14 Nov, while "Friday" is 7 Nov;
* "this week" / "end of (the) week" / "EOW" is the Friday of the call's week ("next week" and
  "end of next week": the Friday after); once that Friday has passed, the following one;
* "end of (the) month" / "EOM" is the month's last day, "next month" the last day of next month;
* "today", "EOD", "COB", "end of (the) day", "tonight", "in N minutes/hours" are the call date;
* "in / within N days / weeks / months" add that span; "in a couple of weeks" is 2 weeks;
* "on / by the 14th" is the next 14th on or after the call date (rolling to next month);
* "December 3" / "3 Dec" is that day this year, or next year once passed (year wrap);
  "in / by / end of March" is the last day of that month (next year's once passed);
* "Q1".."Q4" is the quarter's last day (next year's once the quarter has ended),
  "end of (the) quarter" the current quarter's last day, "end of (the) year" / "EOY" 31 Dec;
* "right now", "right after this (call)", "after the call", "within the hour" are the call date;
  "this weekend" / "over the weekend" is the coming Sunday;
* "give me a couple of days" / "a few days" count from the call like "in a couple of days";
* "mid-June" is the 15th; ordinal words count like digits ("the fifteenth", "August fourth");
  "the second Tuesday of July" is that weekday of that month (next year's once passed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from dateutil import parser as date_parser
from dateutil.relativedelta import FR, MO, relativedelta

_WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a few": 3,
    "few": 3,
}
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY_RE = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"tues|thurs|thur|mon|tue|wed|thu|fri|sat|sun"
)
_NUM_RE = r"\d{1,3}|a couple of|a couple|couple of|a few|few|an?|" + "|".join(
    k for k in _NUMBERS if " " not in k and len(k) > 2
)
_ORD = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
# Optional lead-in kept in the returned phrase: "by", "before the QBR on", "no later than".
_LEAD = (
    r"(?:(?:by|before|until|till|ahead of|no later than|for|on|at|in|around|over)\s+"
    r"(?:the\s+)?(?:(?:[\w'-]+\s+){0,3}?(?:on|at)\s+)?)?"
)


def _next_week_friday(d: dt.date) -> dt.date:
    return d + relativedelta(days=1, weekday=MO(+1)) + relativedelta(weekday=FR)


def _this_friday(d: dt.date) -> dt.date:
    """Friday of the call's week; on a weekend that Friday has passed, so the next one."""
    return d + relativedelta(weekday=FR(+1)) if d.weekday() <= 4 else _next_week_friday(d)


def _weekday(d: dt.date, name: str) -> dt.date:
    target = _WEEKDAYS[name.lower()]
    return d + relativedelta(days=1) + relativedelta(weekday=target)


def _next_week_weekday(d: dt.date, name: str) -> dt.date:
    monday_next = d + relativedelta(days=1, weekday=MO(+1))
    return monday_next + relativedelta(weekday=_WEEKDAYS[name.lower()])


def _month_end(d: dt.date, months_ahead: int = 0) -> dt.date:
    return d + relativedelta(months=months_ahead, day=31)


def _quarter_end(year: int, quarter: int) -> dt.date:
    return dt.date(year, quarter * 3, 1) + relativedelta(day=31)


def _quarter(d: dt.date, m: re.Match[str]) -> dt.date:
    quarter = int(m.group("q"))
    year = int(m.group("year")) if m.group("year") else d.year
    if year < 100:
        year += 2000
    end = _quarter_end(year, quarter)
    return end if end >= d or m.group("year") else _quarter_end(year + 1, quarter)


def _current_quarter_end(d: dt.date, ahead: int = 0) -> dt.date:
    quarter = (d.month - 1) // 3 + 1 + ahead
    year = d.year + (quarter - 1) // 4
    return _quarter_end(year, (quarter - 1) % 4 + 1)


def _span(d: dt.date, m: re.Match[str]) -> dt.date:
    raw = m.group("n").lower()
    n = int(raw) if raw.isdigit() else _NUMBERS[raw]
    unit = m.group("unit").lower()
    if unit.startswith(("minute", "hour")):
        return d
    if unit.startswith("business day"):
        return _add_business_days(d, n)
    key = {"day": "days", "week": "weeks", "month": "months"}[unit.rstrip("s")]
    delta = {"days": relativedelta(days=n), "weeks": relativedelta(weeks=n)}.get(
        key, relativedelta(months=n)
    )
    return d + delta


def _add_business_days(d: dt.date, n: int) -> dt.date:
    out = d
    while n > 0:
        out += dt.timedelta(days=1)
        n -= out.weekday() < 5
    return out


def _day_of_month(d: dt.date, m: re.Match[str]) -> dt.date | None:
    day = int(m.group("day"))
    if not 1 <= day <= 31:
        return None
    for months in range(0, 3):
        candidate = d + relativedelta(months=months, day=day)
        if candidate.day == day and candidate >= d:
            return candidate
    return None


def _month_day(d: dt.date, m: re.Match[str]) -> dt.date | None:
    text = m.group("date")
    try:
        parsed = date_parser.parse(text, default=dt.datetime(d.year, d.month, 1)).date()
    except (ValueError, OverflowError):
        return None
    has_year = re.search(r"\b\d{4}\b", text) is not None
    if parsed < d and not has_year:
        parsed += relativedelta(years=1)
    return parsed


def _month_end_named(d: dt.date, m: re.Match[str]) -> dt.date:
    """ "in March" / "by March": the last day of the next March (this year's if not past)."""
    month = date_parser.parse(m.group("month"), default=dt.datetime(d.year, 1, 1)).month
    end = dt.date(d.year, month, 1) + relativedelta(day=31)
    return end if end >= d else end + relativedelta(years=1, day=31)


def _ymd(d: dt.date, m: re.Match[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(m.group("iso"))
    except ValueError:
        return None


def _nth_weekday(d: dt.date, m: re.Match[str]) -> dt.date | None:
    """ "the second Tuesday of July": that weekday of that month, next year's once passed."""
    nth = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}[m.group("nth").lower()]
    month = date_parser.parse(m.group("month"), default=dt.datetime(d.year, 1, 1)).month
    weekday = _WEEKDAYS[m.group("wd").lower()]
    for year in (d.year, d.year + 1):
        first = dt.date(year, month, 1)
        if nth > 0:
            day = first + relativedelta(weekday=weekday) + relativedelta(weeks=nth - 1)
        else:
            last = first + relativedelta(day=31)
            day = last - dt.timedelta(days=(last.weekday() - weekday) % 7)
        if day.month == month and day >= d:
            return day
    return None


def _mid_month(d: dt.date, m: re.Match[str]) -> dt.date:
    month = date_parser.parse(m.group("month"), default=dt.datetime(d.year, 1, 1)).month
    day = dt.date(d.year, month, 15)
    return day if day >= d else dt.date(d.year + 1, month, 15)


def _sunday(d: dt.date) -> dt.date:
    return d + relativedelta(weekday=6)


Resolver = Callable[[dt.date, re.Match[str]], dt.date | None]

# Ordered: the first rule that matches wins, so specific phrases come before generic ones.
_RULES: list[tuple[str, Resolver]] = [
    (r"(?P<iso>\d{4}-\d{2}-\d{2})", _ymd),
    (
        r"(?:(?:by|before)\s+)?(?:end of (?:the )?day|EOD|COB|close of business)\s+tomorrow",
        lambda d, m: d + relativedelta(days=1),
    ),
    (
        r"(?:(?:by|before|until)\s+)?(?:the\s+)?day after tomorrow",
        lambda d, m: d + relativedelta(days=2),
    ),
    (
        r"(?:(?:by|before|until|first thing)\s+)?tomorrow(?:\s+(?:morning|afternoon|evening))?",
        lambda d, m: d + relativedelta(days=1),
    ),
    (
        r"(?:(?:by|before|at)\s+)?(?:(?:the\s+)?end of (?:the |to)?day|EOD|COB|close of business|"
        r"today|tonight|this (?:morning|afternoon|evening))",
        lambda d, m: d,
    ),
    (
        r"(?:right now|right away|(?:right |straight |just )?after (?:this|the|our) "
        r"(?:call|meeting)|right after this|within the (?:next )?hour)",
        lambda d, m: d,
    ),
    (r"(?:(?:this|over the|on the|by the)\s+)weekend", lambda d, m: _sunday(d)),
    (
        r"(?:the\s+)?(?P<nth>first|second|third|fourth|last)\s+(?P<wd>" + _WEEKDAY_RE + r")"
        r"\s+(?:of|in)\s+(?P<month>january|february|march|april|may|june|july|august|september|"
        r"october|november|december)",
        _nth_weekday,
    ),
    (
        r"(?:(?:by|before|until|in|around)\s+)?mid[- ]?(?P<month>january|february|march|april|may|"
        r"june|july|august|september|october|november|december)",
        _mid_month,
    ),
    (r"(?:(?:by|before|until)\s+)?(?:the\s+)?end of next week", lambda d, m: _next_week_friday(d)),
    (
        r"(?:(?:by|before|until)\s+)?(?:the\s+)?(?:end of (?:the |this )?week|EOW)",
        lambda d, m: _this_friday(d),
    ),
    (
        r"(?:(?:by|before|until)\s+)?(?:early|beginning of|start of) next week",
        lambda d, m: d + relativedelta(days=1, weekday=MO(+1)),
    ),
    (r"(?:(?:by|before|until|sometime|later)\s+)?next week", lambda d, m: _next_week_friday(d)),
    (r"(?:(?:by|before|until|sometime|later)\s+)?this week", lambda d, m: _this_friday(d)),
    (r"(?:(?:by|before|until)\s+)?(?:the\s+)?end of next month", lambda d, m: _month_end(d, 1)),
    (
        r"(?:(?:by|before|until)\s+)?(?:the\s+)?(?:end of (?:the |this )?month|EOM|month[- ]end)",
        lambda d, m: _month_end(d),
    ),
    (r"(?:(?:by|before|until|sometime)\s+)?next month", lambda d, m: _month_end(d, 1)),
    (
        r"(?:(?:by|before|until|in|for|during|within)\s+)?(?:the\s+)?(?:end of\s+)?"
        r"Q(?P<q>[1-4])(?:\s+(?:of\s+)?'?(?P<year>(?:20)?\d\d)\b)?",
        _quarter,
    ),
    (
        r"(?:(?:by|before|until)\s+)?(?:the\s+)?end of (?:the |this )?quarter|EOQ",
        lambda d, m: _current_quarter_end(d),
    ),
    (r"(?:(?:by|before|until|in|for)\s+)?next quarter", lambda d, m: _current_quarter_end(d, 1)),
    (
        r"(?:(?:by|before|until)\s+)?(?:the\s+)?(?:end of (?:the |this )?year|EOY|year[- ]end)",
        lambda d, m: dt.date(d.year, 12, 31),
    ),
    (
        r"(?:in|within|over|give me|gimme|need|takes?|taking)\s+(?:about\s+|around\s+)?"
        r"(?:the\s+next\s+)?(?:(?:" + _NUM_RE + r")\s+(?:to|or|-)\s+)?(?P<n>" + _NUM_RE + r")\s+"
        r"(?P<unit>business days?|days?|weeks?|months?|minutes?|hours?)(?:'?\s*time)?",
        _span,
    ),
    (
        r"(?:" + _LEAD + r")?next\s+(?P<wd>" + _WEEKDAY_RE + r")\b",
        lambda d, m: _next_week_weekday(d, m.group("wd")),
    ),
    (
        _LEAD + r"(?:this\s+(?:coming\s+)?|coming\s+)?(?P<wd>" + _WEEKDAY_RE + r")\b",
        lambda d, m: _weekday(d, m.group("wd")),
    ),
    (
        _LEAD + r"(?P<date>(?:" + _MONTHS + r")\.?\s+[0-3]?\d(?:st|nd|rd|th)?(?:,?\s+\d{4})?|"
        r"(?:the\s+)?[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?(?:" + _MONTHS + r")(?:,?\s+\d{4})?)\b",
        _month_day,
    ),
    (
        r"(?:(?:by|before|until|in|during|for|around|(?:the\s+)?end of)\s+)(?P<month>"
        r"january|february|march|april|june|july|august|september|october|november|december)\b"
        r"(?!\s+[0-3]?\d)",
        _month_end_named,
    ),
    (_LEAD + r"the\s+" + _ORD + r"\b(?!\s+(?:of\s+)?(?:" + _MONTHS + r"))", _day_of_month),
]
_COMPILED = [(re.compile(r"\b" + p + r"\b", re.IGNORECASE), f) for p, f in _RULES]


_ORDINAL_WORDS = {
    w: i
    for i, w in enumerate(
        "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
        "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split()
    )
}
_ORDINAL_WORDS.update({f"twenty-{w}": 20 + i for w, i in list(_ORDINAL_WORDS.items())[1:10]})
_ORDINAL_WORDS.update({f"twenty {w}": 20 + i for w, i in list(_ORDINAL_WORDS.items())[1:10]})
_ORDINAL_WORDS.update({"thirtieth": 30, "thirty-first": 31, "thirty first": 31})
_ORDINAL_RE = re.compile(
    r"\b(?P<lead>the\s+|(?:" + _MONTHS + r")\.?\s+)"
    r"(" + "|".join(sorted((re.escape(k) for k in _ORDINAL_WORDS), key=len, reverse=True)) + r")\b"
    # only a date when nothing but punctuation or a small word follows ("the second one" is not)
    r"(?=\s*(?:$|[.,;:!?)]|(?:of|at|in|and|or|so|is|that|when|then|for|because|but|right)\b))",
    re.IGNORECASE,
)


def _digits(sentence: str) -> str:
    """ "the fifteenth" → "the 15th", "August fourth" → "August 4th" (same length or not: the
    phrase returned is then looked up again in the original, see `resolve_due`)."""

    def repl(m: re.Match[str]) -> str:
        n = _ORDINAL_WORDS[m.group(2).lower()]
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return m.group("lead") + f"{n}{suffix}"

    return _ORDINAL_RE.sub(repl, sentence)


def _plausible(m: re.Match[str]) -> bool:
    """Reject lower-case weekday abbreviations that are everyday words ("sat", "sun", "wed")."""
    wd = m.groupdict().get("wd")
    return not (wd and wd in {"sat", "sun", "wed", "mon"})


def resolve_due(phrase_or_sentence: str, call_date: dt.date) -> tuple[dt.date | None, str | None]:
    """Return (due date, the phrase as spoken) for the first due phrase found, else (None, None).

    The date is on or after `call_date`; the phrase is a substring of the input (ordinal words
    are read as digits, so the phrase is then the matched span of the input, not of the digits).
    """
    text = _digits(phrase_or_sentence)
    for pattern, resolver in _COMPILED:
        for m in pattern.finditer(text):
            if not _plausible(m):
                continue
            due = resolver(call_date, m)
            if due is not None:
                return max(due, call_date), _original_span(phrase_or_sentence, text, m)
    return None, None


def _original_span(original: str, digits: str, m: re.Match[str]) -> str:
    """The words of `original` the match covers (the same text when no ordinal was rewritten)."""
    if original == digits:
        return m.group(0).strip()
    words = m.group(0).split()
    lead = len(digits[: m.start()].split())
    return " ".join(original.split()[lead : lead + len(words)]).strip(" ,.;?!") or m.group(0)
