"""WebVTT as the recorders write it.

- Zoom: "Name: text" cues. Teams: ``<v Name>text</v>`` voice tags (names may carry HTML
  entities, ``Carlos Far&#237;as``).
- Google Meet captions: a ``(Name)`` line before the timing line or at the top of the cue text.
- Teams Graph ``metadataContent``: every cue's text is a JSON object with ``speakerName`` and
  ``spokenText``; the header may be followed by the first cue without a blank line.
- YouTube / yt-dlp automatic captions: "rolling" cues that repeat the previous line, with
  word-timing tags (``<00:00:01.230><c> word</c>``); repeats are removed (see `captions`).

The file is first brought to a canonical layout (header, blank line, optional cue id, timing,
text), so that webvtt-py reads every cue the recorders write and only really broken timing
lines count as broken.
"""

from __future__ import annotations

import io
import re

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from bot.transcripts.captions import (
    captions_to_result,
    check_broken,
    check_vtt_blocks,
    vtt_timing_ok,
)
from bot.transcripts.model import FormatResult, TranscriptError

# A Meet-style speaker line: "(Dana Reyes)" alone on a line.
NAME_LINE = re.compile(r"^\((?P<name>[^()\n]{1,60})\)$")


def looks_like_vtt(text: str) -> bool:
    """WebVTT files must start with the WEBVTT signature (after an optional BOM)."""
    return text.lstrip("\ufeff \t\r\n").startswith("WEBVTT")


def canonical_vtt(body: str) -> str:
    """The same cues in the layout webvtt-py reads: a blank line after the header, and any
    ``(Name)`` line that stands before a cue's timing moved into the cue text."""
    lines = body.split("\n")
    if len(lines) > 1 and lines[1].strip() and "-->" in lines[1]:
        lines.insert(1, "")  # Graph's metadataContent: "WEBVTT" then the first cue directly
    out: list[str] = []
    block: list[str] = []
    pending: list[str] = []  # "(Name)" lines standing alone, for the next cue

    def flush() -> None:
        if not block:
            return
        timing = next((k for k, line in enumerate(block) if "-->" in line), None)
        if out and timing is None and all(NAME_LINE.match(ln.strip()) for ln in block):
            pending[:] = block[-1:]
            if out[-1] == "":
                out.pop()  # the blank line before the name block: the cue keeps its own
        elif timing is None or not out:
            out.extend(block)
        else:
            before = block[:timing]
            names = [ln for ln in before if NAME_LINE.match(ln.strip())] or pending[:]
            ids = [ln for ln in before if not NAME_LINE.match(ln.strip())]
            out.extend([*ids[-1:], block[timing], *names, *block[timing + 1 :]])
            pending.clear()
        block.clear()

    for line in lines:
        if line:  # only an empty line ends a block, as webvtt-py reads it
            block.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out)


def parse_vtt(text: str) -> FormatResult:
    """Read WebVTT text; see `captions` for the broken-timestamp policy."""
    body = canonical_vtt(text.lstrip("\ufeff \t\r\n"))
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


__all__ = ["NAME_LINE", "canonical_vtt", "looks_like_vtt", "parse_vtt", "vtt_timing_ok"]
