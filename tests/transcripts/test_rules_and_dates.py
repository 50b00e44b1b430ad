"""Speaker-label rules, clock times, merging and call dates from file names."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.transcripts import Utterance, guess_call_date
from bot.transcripts.text_rules import clean_utterances, parse_clock, split_speaker_prefix


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Jane Doe: hi there", ("Jane Doe", "hi there", None)),
        ("Jan de Vries: hallo", ("Jan de Vries", "hallo", None)),
        ("jane doe: lower-case display name", ("jane doe", "lower-case display name", None)),
        ("Speaker 1 (01:02): yes", ("Speaker 1", "yes", 62.0)),
        ("Ünïcode 名前: こんにちは", ("Ünïcode 名前", "こんにちは", None)),
        ("Dana  Kim :   spaced", ("Dana Kim", "spaced", None)),
        ("Next steps: send the deck", None),
        ("The plan we agreed: ship it", None),
        ("Meet at 10:30 tomorrow", None),
        ("See https://example.com", None),
        ("https://example.com/x", None),
    ],
)
def test_split_speaker_prefix(line, expected):
    assert split_speaker_prefix(line) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0:01", 1.0),
        ("1:02", 62.0),
        ("01:02:03", 3723.0),
        ("1:02:03,5", 3723.5),
        ("0:75", None),
        ("1:75:00", None),
        ("a:b", None),
        ("12", None),
    ],
)
def test_parse_clock(value, seconds):
    assert parse_clock(value) == seconds


def test_clean_utterances_merges_known_speakers_only():
    cleaned = clean_utterances(
        [
            Utterance(" Ann  Lee ", "one", 1.0),
            Utterance("Ann Lee", "  two\n three ", 2.0),
            Utterance("Bo", "   ", 3.0),
            Utterance(None, "x", 4.0),
            Utterance(None, "y", 5.0),
            Utterance("Ann Lee", "four", None),
        ]
    )

    assert cleaned == [
        Utterance("Ann Lee", "one two three", 1.0),
        Utterance(None, "x", 4.0),
        Utterance(None, "y", 5.0),
        Utterance("Ann Lee", "four", None),
    ]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("call-2026-11-20.vtt", dt.date(2026, 11, 20)),
        ("Acme QBR 2026_11_20.docx", dt.date(2026, 11, 20)),
        ("20261120-acme.txt", dt.date(2026, 11, 20)),
        ("GMT20261120-153000_Recording.transcript.vtt", dt.date(2026, 11, 20)),
        ("2026.02.30 then 2026.03.01.txt", dt.date(2026, 3, 1)),
        ("acme-2026-1120.vtt", None),  # mixed separators
        ("order 120261120999.txt", None),  # inside a longer number
        ("acme call.vtt", None),
    ],
)
def test_guess_call_date(filename, expected):
    assert guess_call_date(filename) == expected
