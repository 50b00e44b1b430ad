"""Plain-text transcripts, one of these line styles (they may be mixed):

- ``Jane Doe: text`` (also ``Jane Doe (01:02): text``; ``Jane Doe:`` alone, text below)
- ``[00:01:02] Jane Doe: text`` / ``(01:02) Jane Doe: text`` / ``00:01:02 Jane Doe: text``
- Otter / Teams-DOCX style: a header line ``Jane Doe  0:01`` (name, then a clock time, nothing
  else), followed by text lines until the next header. Otter's "Transcribed by https://otter.ai"
  footer is dropped.
- Zoom's in-meeting "Save transcript" text: a header line ``[Jane Doe] 10:02:15``, text below.
- Google Meet's transcript document (Docs, or downloaded as .docx/.txt): a title, "Attendees",
  the attendee list and "Transcript" above ``Jane Doe: text`` lines with a ``00:05:00`` time
  mark now and then, and a "This editable transcript was computer generated…" footer. The
  header and the footer are dropped; a time mark dates the lines after it.

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
_ZOOM_HEADER = re.compile(rf"^\[(?P<name>[^\[\]]{{1,60}})\]\s+(?P<clock>{CLOCK})$")
_CLOCK_ONLY = re.compile(rf"^\(?\[?(?P<clock>{CLOCK})\]?\)?$")
_FOOTERS = re.compile(
    r"^(?:transcribed by (?:https?://)?otter\.ai\S*|"
    r"this editable transcript was computer generated\b.*)$",
    re.IGNORECASE,
)
_ZOOM_CHAT = re.compile(rf"^{CLOCK}\s+From\s+.{{1,80}}?(?:\s+to\s+.{{1,80}}?)?\s*:", re.I)
_MEET_HEADER_LINES = 12
_NOT_TRANSCRIPT = (
    "I couldn't find any speech in this file: I read {lines} line(s) of text, but none has "
    "speaker labels or times. A text transcript needs lines like “Jane Doe: we'll send "
    "the pricing by Friday”, “[00:01:02] Jane Doe: …” or “[Jane Doe] 00:01:02” with the words "
    "below. If you have the original Zoom/Teams/Meet export (.vtt or .docx), upload that instead."
)
_CHAT_LOG = (
    "This looks like a meeting chat log (messages typed in the chat, “hh:mm:ss From Name: …”), "
    "not a transcript of what was said. Upload the transcript file instead (Zoom: the "
    "“Audio transcript” .vtt of the recording, or the saved transcript .txt)."
)


def parse_lines(lines: Iterable[str]) -> FormatResult:
    """Read transcript lines (from a text file or DOCX paragraphs) into utterances."""
    utterances: list[Utterance] = []
    speaker: str | None = None
    start: float | None = None
    mark: float | None = None  # a Meet-style time mark alone on its line, for the next turn
    parts: list[str] = []
    marked = False  # saw at least one speaker label or timestamp
    content = _without_header_and_footer([raw.strip() for raw in lines])
    _refuse_chat_log(content)

    def flush() -> None:
        if parts:
            utterances.append(Utterance(speaker, " ".join(parts), start))
            parts.clear()

    for line in content:
        if not line:
            continue
        header = _otter_header(line) or _zoom_header(line)
        if header is not None:
            flush()
            speaker, start = header
            marked, mark = True, None
            continue
        alone = _CLOCK_ONLY.match(line)
        if alone is not None and parse_clock(alone.group("clock")) is not None:
            mark, marked = parse_clock(alone.group("clock")), True
            continue
        clock, rest = _leading_clock(line)
        found = split_speaker_prefix(rest)
        if found is not None:
            flush()
            speaker, text, inline_clock = found
            start = next((c for c in (clock, inline_clock, mark) if c is not None), None)
            marked, mark = True, None
            parts.append(text)
        elif clock is not None:
            flush()
            speaker, start, marked = None, clock, True
            parts.append(rest)
        else:
            parts.append(line)
    flush()
    if not marked:
        raise TranscriptError(_NOT_TRANSCRIPT.format(lines=sum(1 for ln in content if ln)))
    return FormatResult(utterances)


def _without_header_and_footer(lines: list[str]) -> list[str]:
    """Drop recorder footers, and a Meet transcript document's title and attendee list."""
    kept = [line for line in lines if not _FOOTERS.match(line)]
    head = [i for i, line in enumerate(kept) if line][:_MEET_HEADER_LINES]
    words = {kept[i].rstrip(":").casefold(): i for i in head}
    if "attendees" in words and "transcript" in words and words["attendees"] < words["transcript"]:
        return kept[words["transcript"] + 1 :]
    return kept


def _refuse_chat_log(lines: list[str]) -> None:
    text_lines = [line for line in lines if line]
    chat = sum(1 for line in text_lines if _ZOOM_CHAT.match(line))
    if text_lines and chat >= max(2, len(text_lines) // 2):
        raise TranscriptError(_CHAT_LOG)


def _zoom_header(line: str) -> tuple[str, float] | None:
    match = _ZOOM_HEADER.match(line)
    if match is None or not looks_like_name(match.group("name").strip()):
        return None
    clock = parse_clock(match.group("clock"))
    return (match.group("name").strip(), clock) if clock is not None else None


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
