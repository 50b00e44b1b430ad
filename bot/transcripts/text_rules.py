"""Rules shared by every format: speaker labels, whitespace, clock times, merging turns.

Kept in one place so a "Jane Doe: hi" line means the same thing in a VTT cue, an SRT cue,
a text file and a DOCX paragraph.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.transcripts.model import Utterance

_SPACES = re.compile(r"\s+")

# A speaker label: starts with a letter, at most six words / 60 characters.
_NAME = r"[^\W\d_][\w'’.&@()\-]*(?:[ \t]+[\w'’.&@()\-]+){0,5}"
# A clock time such as 0:01, 01:02:03 or 1:02:03.5 (seconds fraction with "." or ",").
CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"

# "Jane Doe: text", "Jane Doe (01:02): text", "Jane Doe [01:02]:" (text on the next lines).
_SPEAKER_PREFIX = re.compile(
    rf"^(?P<name>{_NAME}?)\s*(?:[\[(](?P<clock>{CLOCK})[\])])?\s*:(?:\s+(?P<text>.*)|$)",
    re.DOTALL,
)
# Name particles that may be lower case inside a capitalised name ("Jan de Vries").
_PARTICLES = frozenset(
    "de da del della der den di du la le van von bin bint al el y dos das do st".split()
)


def normalize_text(text: str) -> str:
    """Collapse all whitespace (newlines, tabs, no-break spaces) to single spaces."""
    return _SPACES.sub(" ", text).strip()


def normalize_speaker(name: str | None) -> str | None:
    """Strip and collapse spaces; an empty label means "unknown speaker" (None)."""
    if name is None:
        return None
    cleaned = normalize_text(unicodedata.normalize("NFC", name))
    return cleaned or None


def looks_like_name(name: str) -> bool:
    """Tell a speaker label from a sentence that happens to contain a colon.

    One word is always accepted ("Jane", "jdoe", "Note" — the price of simplicity). Longer
    labels must be capitalised ("Project Manager", "Jan de Vries", "Speaker 1") or at most two
    lower-case words ("jane doe"); "Next steps: ..." or "The plan we agreed: ..." are not.
    """
    words = name.split()
    if len(words) <= 1:
        return bool(words)
    # "capitalised" = not starting lower case, so digits, "(" and caseless scripts (名前) count
    if all(not w[0].islower() or w in _PARTICLES for w in words[1:]):
        return not words[0][0].islower()
    return len(words) == 2 and all(w.islower() for w in words)


def split_speaker_prefix(line: str) -> tuple[str | None, str, float | None] | None:
    """Split "Name: text" into (speaker, text, clock seconds); None when there is no label."""
    match = _SPEAKER_PREFIX.match(line)
    if match is None:
        return None
    name = match.group("name").strip()
    text = match.group("text") or ""
    if not name or text.startswith("//") or not looks_like_name(name):
        return None
    clock = match.group("clock")
    return normalize_speaker(name), text, parse_clock(clock) if clock else None


def parse_clock(value: str) -> float | None:
    """Read "1:02" (m:ss), "01:02:03" or "1:02:03,5" as seconds; None if it is not a clock."""
    parts = value.strip().replace(",", ".").split(":")
    if not 2 <= len(parts) <= 3:
        return None
    try:
        *whole, seconds = parts
        numbers = [int(p) for p in whole]
        secs = float(seconds)
    except ValueError:
        return None
    if secs >= 60 or any(n < 0 for n in numbers) or (len(numbers) == 2 and numbers[1] >= 60):
        return None
    multiplier = 60.0
    total = secs
    for number in reversed(numbers):
        total += number * multiplier
        multiplier *= 60
    return total


def clean_utterances(utterances: Iterable[Utterance]) -> list[Utterance]:
    """Normalise speakers and text, drop empty turns, merge consecutive turns of one speaker.

    Turns without a speaker are never merged: a caption file without names keeps its cue
    timing instead of collapsing into one block.
    """
    merged: list[Utterance] = []
    parts: list[str] = []  # text pieces of the last turn, joined once (long monologues)
    for utterance in utterances:
        text = normalize_text(utterance.text)
        if not text:
            continue
        speaker = normalize_speaker(utterance.speaker)
        last = merged[-1] if merged else None
        if last is not None and speaker is not None and last.speaker == speaker:
            parts.append(text)
            if last.start is None and utterance.start is not None:
                merged[-1] = Utterance(speaker, "", utterance.start)
            continue
        _flush(merged, parts)
        merged.append(Utterance(speaker, "", utterance.start))
        parts = [text]
    _flush(merged, parts)
    return merged


def _flush(merged: list[Utterance], parts: list[str]) -> None:
    if merged and parts:
        last = merged[-1]
        merged[-1] = Utterance(last.speaker, " ".join(parts), last.start)
