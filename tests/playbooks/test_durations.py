from datetime import timedelta

import pytest

from bot.playbooks.durations import DelayError, format_delay, parse_delay


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        (0, timedelta(0)),
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m", timedelta(weeks=1, days=2, hours=3, minutes=4)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_parse_delay(text: str | int, expected: timedelta) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    "text", ["2x", "", "d", "5", 5, "1.5d", "-1d", "12h1d", "1d1d", "2 days", "400d", True]
)
def test_parse_delay_refuses(text: str | int) -> None:
    with pytest.raises(DelayError):
        parse_delay(text)


def test_bad_delay_message_says_how_to_write_one() -> None:
    with pytest.raises(DelayError, match=r"^delay '2x' is not a duration; use e.g. 0, 4h, 2d, 1w$"):
        parse_delay("2x")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0"),
        (timedelta(minutes=30), "30m"),
        (timedelta(days=1, hours=12), "1d 12h"),
        (timedelta(days=9), "1w 2d"),
        (timedelta(hours=4, seconds=59), "4h"),
    ],
)
def test_format_delay(delta: timedelta, text: str) -> None:
    assert format_delay(delta) == text


@pytest.mark.parametrize("text", ["0", "30m", "1d12h", "1w2d3h4m", "3w"])
def test_round_trip(text: str) -> None:
    delta = parse_delay(text)
    assert parse_delay(format_delay(delta)) == delta


def test_format_refuses_negative() -> None:
    with pytest.raises(ValueError):
        format_delay(timedelta(hours=-1))
