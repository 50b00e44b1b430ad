"""Transcript ingestion: bytes of an uploaded file → speaker-attributed utterances.

The format is detected from the content; the file name is only a hint (a VTT named .txt is
read as VTT, a PNG named .vtt is refused). Every problem a user can fix is a TranscriptError
whose message says what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from bot.transcripts.dates import guess_call_date
from bot.transcripts.docx import is_docx_zip, parse_docx
from bot.transcripts.jsonfmt import is_json, looks_like_json, parse_json
from bot.transcripts.model import FormatResult, TranscriptError, Utterance
from bot.transcripts.plaintext import parse_plaintext
from bot.transcripts.sniff import decode_text, is_zip, refuse_binary_text, refuse_known_binary
from bot.transcripts.srt import looks_like_srt, parse_srt
from bot.transcripts.text_rules import clean_utterances
from bot.transcripts.vtt import looks_like_vtt, parse_vtt

__all__ = [
    "ParsedTranscript",
    "TranscriptError",
    "Utterance",
    "guess_call_date",
    "parse_transcript",
    "sha256_hex",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParsedTranscript:
    """A transcript ready for the commitment step.

    `duration_seconds` is the last cue/segment end when the format has end times, else the
    last utterance start (a lower bound), else None. `skipped_cues` counts caption cues
    dropped for broken timestamps (see `captions`), so the app can warn the uploader.
    """

    format: str  # vtt | srt | text | json | docx
    utterances: list[Utterance]
    speakers: list[str]
    sha256: str
    word_count: int
    encoding: str
    duration_seconds: float | None
    skipped_cues: int = 0


def sha256_hex(data: bytes) -> str:
    """Content hash used to spot the same file uploaded twice."""
    return hashlib.sha256(data).hexdigest()


def parse_transcript(
    data: bytes, filename: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedTranscript:
    """Detect the format of `data`, parse it and normalise it; raise TranscriptError if unfit."""
    if not data:
        raise TranscriptError("This file is empty. Export the transcript again and re-upload.")
    if len(data) > max_bytes:
        raise TranscriptError(
            f"This file is {_size(len(data))}, over the {_size(max_bytes)} limit for "
            "transcripts. Upload the transcript text (.vtt, .txt, .docx) rather than a "
            "recording, or split the call into parts."
        )
    fmt, encoding, result = _parse_any(data, filename)
    utterances = clean_utterances(result.utterances)
    if not utterances:
        raise TranscriptError(
            "I couldn't find any speech in this file: it has no captions or spoken lines. "
            "Check that you exported the transcript (not the chat or an empty recording)."
        )
    speakers = list(dict.fromkeys(u.speaker for u in utterances if u.speaker is not None))
    log.debug("parsed %s transcript: %d utterances", fmt, len(utterances))
    return ParsedTranscript(
        format=fmt,
        utterances=utterances,
        speakers=speakers,
        sha256=sha256_hex(data),
        word_count=sum(len(u.text.split()) for u in utterances),
        encoding=encoding,
        duration_seconds=_duration(result, utterances),
        skipped_cues=result.skipped_cues,
    )


def _parse_any(data: bytes, filename: str | None) -> tuple[str, str, FormatResult]:
    if is_zip(data):
        if is_docx_zip(data):
            return "docx", "utf-8", parse_docx(data)
        what = "a damaged Word file" if _has_suffix(filename, ".docx") else "a zip archive"
        raise TranscriptError(
            f"This file is {what}, not a transcript. Upload the transcript itself "
            "(.vtt, .srt, .txt, .json or .docx), not a zip of it."
        )
    refuse_known_binary(data)
    text, encoding = decode_text(data)
    refuse_binary_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TranscriptError(
            "This file only contains blank space. Export the transcript again and re-upload."
        )
    if looks_like_vtt(text):
        return "vtt", encoding, parse_vtt(text)
    if looks_like_json(text) or (_has_suffix(filename, ".json") and is_json(text)):
        return "json", encoding, parse_json(text)
    if looks_like_srt(text) or (_has_suffix(filename, ".srt", ".vtt") and "-->" in text):
        return "srt", encoding, parse_srt(text)
    return "text", encoding, parse_plaintext(text)


def _duration(result: FormatResult, utterances: list[Utterance]) -> float | None:
    if result.duration_seconds is not None:
        return result.duration_seconds
    starts = [u.start for u in utterances if u.start is not None]
    return max(starts) if starts else None


def _has_suffix(filename: str | None, *suffixes: str) -> bool:
    return filename is not None and filename.lower().endswith(suffixes)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"
