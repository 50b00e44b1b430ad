"""SRT subtitles: index line, "00:00:01,000 --> 00:00:04,000", text (maybe "Name: text")."""

from __future__ import annotations

import io
import re

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from bot.transcripts.captions import (
    captions_to_result,
    check_broken,
    check_timing_lines,
    srt_timing_ok,
)
from bot.transcripts.model import FormatResult, TranscriptError

_FIRST_CUE = re.compile(r"^\s*\d+\s*\n[^\n]*-->", re.MULTILINE)


def looks_like_srt(text: str) -> bool:
    """An index line directly followed by a timing line, near the top of the file."""
    return _FIRST_CUE.search(text[:2000]) is not None


def parse_srt(text: str) -> FormatResult:
    """Read SRT text; see `captions` for the broken-timestamp policy."""
    body = text.lstrip("\ufeff \t\r\n")
    lines = body.split("\n")
    total, broken = check_timing_lines(lines, srt_timing_ok)
    check_broken(lines, total, broken, "SRT")
    try:
        captions = webvtt.from_buffer(io.StringIO(body), format="srt").captions
    except (MalformedFileError, MalformedCaptionError) as error:
        raise TranscriptError(
            "This SRT subtitle file could not be read (it should start with a cue number and "
            "a line like 00:00:01,000 --> 00:00:04,000). Export it again and re-upload."
        ) from error
    return captions_to_result(captions, skipped=len(broken))
