"""WebVTT as Zoom ("Name: text" cues) and Microsoft Teams (<v Name>text</v> cues) export it."""

from __future__ import annotations

import io

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from bot.transcripts.captions import captions_to_result, check_broken, check_vtt_blocks
from bot.transcripts.model import FormatResult, TranscriptError


def looks_like_vtt(text: str) -> bool:
    """WebVTT files must start with the WEBVTT signature (after an optional BOM)."""
    return text.lstrip("\ufeff \t\r\n").startswith("WEBVTT")


def parse_vtt(text: str) -> FormatResult:
    """Read WebVTT text; see `captions` for the broken-timestamp policy."""
    body = text.lstrip("\ufeff \t\r\n")
    lines = body.split("\n")
    total, broken = check_vtt_blocks(lines)
    check_broken(lines, total, broken, "VTT")
    try:
        captions = webvtt.from_buffer(io.StringIO(body)).captions
    except (MalformedFileError, MalformedCaptionError) as error:
        raise TranscriptError(
            "This VTT file could not be read (it does not follow the WebVTT layout). "
            "Download the transcript again from Zoom/Teams and re-upload it."
        ) from error
    return captions_to_result(captions, skipped=len(broken))
