"""Due-phrase finding and resolution against the call date."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.llm.dates import resolve_due

MONDAY = dt.date(2025, 11, 3)
FRIDAY = dt.date(2025, 11, 7)
SATURDAY = dt.date(2025, 11, 8)


@pytest.mark.parametrize(
    ("sentence", "due", "phrase"),
    [
        ("I'll send it by Friday.", dt.date(2025, 11, 7), "by Friday"),
        ("by next Friday", dt.date(2025, 11, 14), "by next Friday"),
        (
            "We'll have it by the end of next week.",
            dt.date(2025, 11, 14),
            "by the end of next week",
        ),
        ("end of the month", dt.date(2025, 11, 30), "end of the month"),
        ("I can do that tomorrow", dt.date(2025, 11, 4), "tomorrow"),
        ("sometime this week", dt.date(2025, 11, 7), "sometime this week"),
        ("next Tuesday works", dt.date(2025, 11, 11), "next Tuesday"),
        ("within two weeks", dt.date(2025, 11, 17), "within two weeks"),
        ("in 3 days", dt.date(2025, 11, 6), "in 3 days"),
        ("before the QBR on the 14th", dt.date(2025, 11, 14), "before the QBR on the 14th"),
        ("on the 14th", dt.date(2025, 11, 14), "on the 14th"),
        ("by December 3", dt.date(2025, 12, 3), "by December 3"),
        ("by 3rd December", dt.date(2025, 12, 3), "by 3rd December"),
        ("I'll get it over by EOD", MONDAY, "by EOD"),
        ("by eod", MONDAY, "by eod"),
        ("we want this live in Q1", dt.date(2026, 3, 31), "in Q1"),
        ("by Q3 2026", dt.date(2026, 9, 30), "by Q3 2026"),
        ("in a couple of weeks", dt.date(2025, 11, 17), "in a couple of weeks"),
        ("early next week", dt.date(2025, 11, 10), "early next week"),
        ("by end of day tomorrow", dt.date(2025, 11, 4), "by end of day tomorrow"),
        ("by the end of the quarter", dt.date(2025, 12, 31), "by the end of the quarter"),
        ("before the end of the year", dt.date(2025, 12, 31), "before the end of the year"),
        ("in 5 business days", dt.date(2025, 11, 10), "in 5 business days"),
        ("roll out training in March", dt.date(2026, 3, 31), "in March"),
        ("on 2025-11-20", dt.date(2025, 11, 20), "2025-11-20"),
        ("I'll ping you in an hour", MONDAY, "in an hour"),
    ],
)
def test_phrases_resolve_against_a_monday_call(sentence: str, due: dt.date, phrase: str) -> None:
    assert resolve_due(sentence, MONDAY) == (due, phrase)


@pytest.mark.parametrize(
    "sentence",
    [
        "No date here.",
        "We talked about the export.",
        "I sat down with the team",
        "the sun is out",
        "for the next meeting",
        "",
    ],
)
def test_no_due_phrase(sentence: str) -> None:
    assert resolve_due(sentence, MONDAY) == (None, None)


def test_weekday_said_on_that_weekday_means_next_week() -> None:
    assert resolve_due("by Friday", FRIDAY)[0] == dt.date(2025, 11, 14)


def test_next_weekday_is_in_the_following_calendar_week() -> None:
    assert resolve_due("next Friday", MONDAY)[0] == dt.date(2025, 11, 14)
    assert resolve_due("next Monday", dt.date(2025, 11, 5))[0] == dt.date(2025, 11, 10)


def test_this_week_on_a_weekend_rolls_to_the_coming_friday() -> None:
    assert resolve_due("this week", SATURDAY)[0] == dt.date(2025, 11, 14)
    assert resolve_due("next week", SATURDAY)[0] == dt.date(2025, 11, 14)


@pytest.mark.parametrize(
    ("sentence", "call", "due"),
    [
        ("by January 5", dt.date(2025, 12, 20), dt.date(2026, 1, 5)),
        ("on the 3rd", dt.date(2025, 12, 20), dt.date(2026, 1, 3)),
        ("Q3", dt.date(2025, 12, 20), dt.date(2026, 9, 30)),
        ("Q4", dt.date(2025, 12, 20), dt.date(2025, 12, 31)),
        ("next Monday", dt.date(2025, 12, 31), dt.date(2026, 1, 5)),
        ("end of next month", dt.date(2025, 12, 15), dt.date(2026, 1, 31)),
        ("within two weeks", dt.date(2025, 12, 24), dt.date(2026, 1, 7)),
        ("end of the month", dt.date(2024, 2, 10), dt.date(2024, 2, 29)),
        ("on the 31st", dt.date(2025, 11, 3), dt.date(2025, 12, 31)),
    ],
)
def test_year_wrap_and_calendar_edges(sentence: str, call: dt.date, due: dt.date) -> None:
    assert resolve_due(sentence, call)[0] == due


def test_due_is_never_before_the_call_date() -> None:
    phrases = [
        "by December 3",
        "on the 2nd",
        "Q1",
        "by Friday",
        "in March",
        "this week",
        "end of the month",
        "today",
        "next week",
    ]
    for day in range(0, 400, 7):
        call = dt.date(2025, 1, 1) + dt.timedelta(days=day)
        for phrase in phrases:
            due, _ = resolve_due(phrase, call)
            assert due is not None and due >= call, (phrase, call, due)


def test_phrase_is_a_substring_of_the_input() -> None:
    sentence = "Okay so we'll have procurement sign off before the renewal on the 14th, promise."
    due, phrase = resolve_due(sentence, MONDAY)
    assert due == dt.date(2025, 11, 14)
    assert phrase is not None and phrase in sentence
