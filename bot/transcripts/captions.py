"""Shared cue handling for the caption formats (WebVTT and SRT), both read with webvtt-py.

Broken-timestamp policy: webvtt-py silently skips a cue whose timing line it cannot read.
We count those cues ourselves. If at most 10 % of the cues are broken we keep the good ones
and report the number skipped (a hand-edited file with one typo is still worth reading);
above that the file is refused, because a transcript missing whole passages would make
commitments look absent when they were only unreadable.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

import webvtt
from webvtt.srt import SRTCueBlock

from bot.transcripts.model import FormatResult, TranscriptError, Utterance
from bot.transcripts.text_rules import split_speaker_prefix

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
        if line.strip():
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


def captions_to_result(captions: Iterable[webvtt.Caption], skipped: int) -> FormatResult:
    """Turn cues into utterances: speaker from a <v Name> voice tag, else a "Name:" prefix."""
    utterances: list[Utterance] = []
    end = 0.0
    for caption in captions:
        start = caption.start_time.in_milliseconds() / 1000
        end = max(end, caption.end_time.in_milliseconds() / 1000)
        text = html.unescape(caption.text)
        speaker = caption.voice
        if speaker is None:
            found = split_speaker_prefix(text.lstrip())
            if found is not None:
                speaker, text, _ = found
        utterances.append(Utterance(speaker, text, start))
    return FormatResult(utterances, end if utterances else None, skipped)
