"""Shared cue handling for the caption formats (WebVTT and SRT), both read with webvtt-py.

Broken-timestamp policy: webvtt-py silently skips a cue whose timing line it cannot read.
We count those cues ourselves. If at most 10 % of the cues are broken we keep the good ones
and report the number skipped (a hand-edited file with one typo is still worth reading);
above that the file is refused, because a transcript missing whole passages would make
commitments look absent when they were only unreadable.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable

import webvtt
from webvtt.srt import SRTCueBlock

from bot.transcripts.model import FormatResult, TranscriptError, Utterance
from bot.transcripts.text_rules import looks_like_name, split_speaker_prefix

MAX_BROKEN_SHARE = 0.10


# WebVTT timing as webvtt-py reads it (short fields allowed, "." before milliseconds); it
# then refuses minutes or seconds above 59, which `vtt_timing_ok` checks too.
_VTT_CLOCK = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})\.\d{1,3}"
_VTT_TIMING = re.compile(rf"^\s*{_VTT_CLOCK}\s*-->\s*{_VTT_CLOCK}")


def vtt_timing_ok(line: str) -> bool:
    """Whether webvtt-py will accept this WebVTT cue timing line."""
    match = _VTT_TIMING.match(line)
    return match is not None and all(int(match.group(i)) <= 59 for i in (2, 3, 5, 6))


def srt_timing_ok(line: str) -> bool:
    """Whether webvtt-py will accept this SRT cue timing line (its own pattern: SRT readers
    let fields overflow, so 00:00:60,000 is one minute)."""
    return SRTCueBlock.CUE_TIMINGS_PATTERN.match(line) is not None


def check_timing_lines(lines: list[str], valid: Callable[[str], bool]) -> tuple[int, list[int]]:
    """(number of cues, 1-based line numbers of broken ones), judging every "-->" line.

    Used for SRT, where webvtt-py folds a block without timings into the previous cue's text,
    so only timing lines can lose a cue.
    """
    timing_lines = [n for n, line in enumerate(lines, start=1) if "-->" in line]
    return len(timing_lines), [n for n in timing_lines if not valid(lines[n - 1])]


def check_vtt_blocks(lines: list[str]) -> tuple[int, list[int]]:
    """(number of cues, first line numbers of broken ones), judging blank-line-separated blocks.

    A WebVTT block after the header that is not a NOTE/STYLE/REGION must have its timing line
    first or after a cue id; webvtt-py drops any other block, so each one is a lost cue.
    """
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line:  # as webvtt-py: only an empty line ends a block (" " belongs to the cue)
            if not current:
                blocks.append((number, current))
            current.append(line)
        else:
            current = []
    total, broken = 0, []
    for first, block in blocks[1:]:  # blocks[0] is the WEBVTT header
        if block[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        total += 1
        if not any(vtt_timing_ok(line) for line in block[:2]):
            broken.append(first + next((i for i, ln in enumerate(block[:2]) if "->" in ln), 0))
    return total, broken


def check_broken(lines: list[str], total: int, broken: list[int], label: str) -> None:
    """Refuse the file when too many cues have broken timestamps (see module docstring)."""
    if not broken:
        return
    if len(broken) / total <= MAX_BROKEN_SHARE and len(broken) < total:
        return
    first = broken[0]
    raise TranscriptError(
        f"This {label} file has broken timestamps: {len(broken)} of {total} captions "
        f"could not be read (first at line {first}: “{lines[first - 1].strip()[:60]}”). "
        "Download the transcript again from Zoom/Teams, or fix those lines and re-upload."
    )


_SOUNDS = frozenset(
    "laughs laughter laughing inaudible crosstalk music applause silence coughs cough "
    "noise background pause sighs unintelligible foreign".split()
)
_PAREN_NAME = re.compile(r"^\((?P<name>[^()\n]{1,60})\)(?:[ \t]*\n|[ \t]+|$)")
_WORD_TIMING = re.compile(r"<\d{1,2}:\d{2}(?::\d{2})?\.\d{3}>")
_ROLLING_SHARE = 0.3


def paren_speaker(text: str) -> tuple[str, str] | None:
    """(name, rest) for a cue that starts with a Meet-style "(Dana Reyes)" speaker line."""
    match = _PAREN_NAME.match(text)
    if match is None:
        return None
    name = match.group("name").strip()
    if not name or name[0].islower() or name.lower() in _SOUNDS or not looks_like_name(name):
        return None
    return name, text[match.end() :]


def graph_cue(text: str) -> tuple[str | None, str] | None:
    """(speaker, text) of a Teams Graph metadataContent cue: one JSON object per cue."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("spokenText"), str):
        return None
    speaker = data.get("speakerName")
    return (speaker if isinstance(speaker, str) else None), data["spokenText"]


def cue_speaker(voice: str | None, text: str) -> tuple[str | None, str]:
    """Who speaks in a cue and what is said, from whichever convention the recorder used."""
    if voice:
        return html.unescape(voice), text
    for reader in (graph_cue, _prefix_speaker, paren_speaker):
        found = reader(text)
        if found is not None:
            return found
    return None, text


def _prefix_speaker(text: str) -> tuple[str | None, str] | None:
    found = split_speaker_prefix(text.lstrip())
    return None if found is None else (found[0], found[1])


def _is_rolling(cues: list[tuple[float, str | None, str, str]]) -> bool:
    """yt-dlp / YouTube auto-captions: word-timing tags, or cues that restate the last line."""
    if any(_WORD_TIMING.search(raw) for _, _, _, raw in cues):
        return True
    unnamed = [text for _, speaker, text, _ in cues if speaker is None]
    restated = sum(
        1
        for prev, cur in zip(unnamed, unnamed[1:], strict=False)
        if prev.strip() and cur.strip().startswith(prev.strip().split("\n")[-1].strip())
    )
    return len(unnamed) > 2 and restated / (len(unnamed) - 1) >= _ROLLING_SHARE


def _unroll(cues: list[tuple[float, str | None, str, str]]) -> list[Utterance]:
    """Each caption line once: lines a rolling cue repeats from the one before are dropped,
    and a line that grows word by word keeps only its longest form."""
    out: list[Utterance] = []
    recent: list[str] = []
    for start, speaker, text, _ in cues:
        for line in (ln.strip() for ln in text.split("\n")):
            if not line or line in recent:
                continue
            if recent and out and line.startswith(recent[-1]) and out[-1].speaker == speaker:
                out[-1] = Utterance(speaker, line, out[-1].start)
                recent[-1] = line
                continue
            out.append(Utterance(speaker, line, start))
            recent = [*recent[-2:], line]
    return out


def captions_to_result(captions: Iterable[webvtt.Caption], skipped: int) -> FormatResult:
    """Turn cues into utterances: speaker from a <v Name> voice tag, a Graph JSON cue, a
    "Name:" prefix or a "(Name)" line; rolling auto-captions are de-duplicated."""
    cues: list[tuple[float, str | None, str, str]] = []
    end = 0.0
    for caption in captions:
        start = caption.start_time.in_milliseconds() / 1000
        end = max(end, caption.end_time.in_milliseconds() / 1000)
        speaker, text = cue_speaker(caption.voice, html.unescape(caption.text))
        cues.append((start, speaker, text, caption.raw_text))
    if _is_rolling(cues):
        utterances = _unroll(cues)
    else:
        utterances = [Utterance(speaker, text, start) for start, speaker, text, _ in cues]
    return FormatResult(utterances, end if cues else None, skipped)
