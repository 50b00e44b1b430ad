"""Plain-text transcripts, one of these line styles (they may be mixed):

- ``Jane Doe: text`` (also ``Jane Doe (01:02): text``; ``Jane Doe:`` alone, text below)
- ``[00:01:02] Jane Doe: text`` / ``(01:02) Jane Doe: text`` / ``00:01:02 Jane Doe: text``
- Otter / Teams-DOCX style: a header line ``Jane Doe  0:01`` (name, then a clock time, nothing
  else), followed by text lines until the next header.

A line without a speaker continues the previous utterance. A text with no speaker label and no
timestamp at all is not taken for a transcript (it is more likely notes or a README).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.transcripts.model import FormatResult, TranscriptError, Utterance
from bot.transcripts.text_rules import CLOCK, looks_like_name, parse_clock, split_speaker_prefix

_LEADING_CLOCK = re.compile(
    rf"^(?:\[(?P<a>{CLOCK})\]|\((?P<b>{CLOCK})\)|(?P<c>\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?))"
    r"(?:\s*[-–|]\s*|\s+|$)"
)
# "Jane Doe  0:01" — two or more spaces (or a tab) before the clock, or one space when the
# name is capitalised (checked in code), so "Meet at 3:00" stays text.
_HEADER = re.compile(rf"^(?P<name>[^\W\d_][^:\[\]]{{0,59}}?)(?P<gap>\s+)(?P<clock>{CLOCK})$")
_NOT_TRANSCRIPT = (
    "I couldn't find any speech in this file. A text transcript needs speaker labels, "
    "e.g. lines like “Jane Doe: we'll send the pricing by Friday” or “[00:01:02] Jane Doe: …”. "
    "If you have the original Zoom/Teams export (.vtt or .docx), upload that instead."
)


def parse_lines(lines: Iterable[str]) -> FormatResult:
    """Read transcript lines (from a text file or DOCX paragraphs) into utterances."""
    utterances: list[Utterance] = []
    speaker: str | None = None
    start: float | None = None
    parts: list[str] = []
    marked = False  # saw at least one speaker label or timestamp

    def flush() -> None:
        if parts:
            utterances.append(Utterance(speaker, " ".join(parts), start))
            parts.clear()

    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        header = _otter_header(line)
        if header is not None:
            flush()
            speaker, start = header
            marked = True
            continue
        clock, rest = _leading_clock(line)
        found = split_speaker_prefix(rest)
        if found is not None:
            flush()
            speaker, text, inline_clock = found
            start = clock if clock is not None else inline_clock
            marked = True
            parts.append(text)
        elif clock is not None:
            flush()
            speaker, start, marked = None, clock, True
            parts.append(rest)
        else:
            parts.append(line)
    flush()
    if not marked:
        raise TranscriptError(_NOT_TRANSCRIPT)
    return FormatResult(utterances)


def parse_plaintext(text: str) -> FormatResult:
    """Read a plain-text transcript."""
    return parse_lines(text.split("\n"))


def _leading_clock(line: str) -> tuple[float | None, str]:
    match = _LEADING_CLOCK.match(line)
    if match is None:
        return None, line
    clock = parse_clock(match.group("a") or match.group("b") or match.group("c"))
    if clock is None:
        return None, line
    return clock, line[match.end() :]


def _otter_header(line: str) -> tuple[str, float] | None:
    match = _HEADER.match(line)
    if match is None:
        return None
    name = match.group("name").strip()
    wide_gap = len(match.group("gap")) >= 2 or "\t" in match.group("gap")
    if not looks_like_name(name):
        return None
    if not wide_gap and any(w[0].islower() for w in name.split()):
        return None
    clock = parse_clock(match.group("clock"))
    return (name, clock) if clock is not None else None
