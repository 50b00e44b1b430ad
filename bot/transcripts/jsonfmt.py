"""JSON transcript exports. Shapes understood (each covered by a test fixture):

- a bare list of turns ``[{"speaker", "text", "start", "end"?}, ...]``; ``start`` in seconds
  or as "hh:mm:ss"/"mm:ss". Also under ``{"transcript": [...]}`` (our dev data, AMI corpus).
- AssemblyAI: ``{"utterances": [{"speaker": "A", "text", "start", "end"}]}`` — times in
  **milliseconds**.
- Whisper / WhisperX: ``{"segments": [{"start", "end", "text", "speaker"?}]}`` — seconds;
  ``{"text": "..."}`` alone (Whisper without segments; also ``{"transcript": "..."}``) gives
  one untimed utterance without speaker.
- Otter / Fireflies style: ``{"sentences": [{"speaker_name", "text", "start_time", "end_time"?}]}``
  — seconds.
- Gong: ``{"callTranscripts": [{"transcript": [{"speakerId", "sentences": [{"start", "end",
  "text"}]}]}]}`` — milliseconds; names come from an optional ``"parties": [{"speakerId",
  "name"}]`` at the top level (Gong returns them from a separate call), else "Speaker <id>".

Field aliases accepted on a turn: speaker | speaker_name | speakerName | name | participant;
text | transcript | content | sentence; start | start_time | startTime | timestamp | offset.
A bare letter or number as speaker ("A", 2) becomes "Speaker A" / "Speaker 2".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from bot.transcripts.model import FormatResult, TranscriptError, Utterance
from bot.transcripts.text_rules import parse_clock

_SPEAKER_KEYS = ("speaker", "speaker_name", "speakerName", "name", "participant")
_TEXT_KEYS = ("text", "transcript", "content", "sentence")
_START_KEYS = ("start", "start_time", "startTime", "timestamp", "offset")
_END_KEYS = ("end", "end_time", "endTime")

_UNKNOWN_SHAPE = (
    "This JSON file isn't a transcript layout I know. I can read a list of "
    '{"speaker", "text", "start"} entries, and exports from AssemblyAI, Whisper, Otter, '
    "Fireflies and Gong. Export the transcript as .vtt, .docx or .txt instead, or ask your "
    "admin to add this layout."
)


def looks_like_json(text: str) -> bool:
    """A JSON document starts with an object, or a list of objects."""
    head = text.lstrip("\ufeff \t\r\n")[:200]
    return head.startswith("{") or (head.startswith("[") and head[1:].lstrip().startswith("{"))


def is_json(text: str) -> bool:
    """Whether the whole text is one JSON value (used when only the file name says JSON)."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def parse_json(text: str) -> FormatResult:
    """Read one of the JSON shapes listed in the module docstring."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptError(
            f"This file looks like JSON but is not valid JSON (line {error.lineno}, "
            f"column {error.colno}: {error.msg}). Export it again and re-upload."
        ) from error
    return _from_document(document)


def _from_document(document: Any) -> FormatResult:
    if isinstance(document, list):
        return _from_turns(document, milliseconds=False)
    if not isinstance(document, dict):
        raise TranscriptError(_UNKNOWN_SHAPE)
    if isinstance(document.get("callTranscripts"), list):
        return _from_gong(document)
    if isinstance(document.get("utterances"), list):
        return _from_turns(document["utterances"], milliseconds=True)
    for key in ("transcript", "segments", "sentences"):
        if isinstance(document.get(key), list):
            return _from_turns(document[key], milliseconds=False)
    for key in ("text", "transcript"):
        if isinstance(document.get(key), str):
            return FormatResult([Utterance(None, document[key], None)])
    raise TranscriptError(_UNKNOWN_SHAPE)


def _from_turns(turns: list[Any], *, milliseconds: bool) -> FormatResult:
    scale = 1000.0 if milliseconds else 1.0
    utterances: list[Utterance] = []
    end: float | None = None
    for turn in turns:
        if not isinstance(turn, Mapping):
            raise TranscriptError(_UNKNOWN_SHAPE)
        text = _first(turn, _TEXT_KEYS)
        if not isinstance(text, str):
            continue
        start = _seconds(_first(turn, _START_KEYS), scale)
        stop = _seconds(_first(turn, _END_KEYS), scale)
        if stop is not None:
            end = stop if end is None else max(end, stop)
        utterances.append(Utterance(_speaker_label(_first(turn, _SPEAKER_KEYS)), text, start))
    return FormatResult(utterances, end)


def _from_gong(document: Mapping[str, Any]) -> FormatResult:
    names = {
        str(party.get("speakerId")): party.get("name")
        for party in document.get("parties") or []
        if isinstance(party, Mapping) and party.get("name")
    }
    turns: list[dict[str, Any]] = []
    for call in document["callTranscripts"]:
        monologues = call.get("transcript") if isinstance(call, Mapping) else None
        for monologue in monologues or []:
            if not isinstance(monologue, Mapping):
                continue
            speaker_id = monologue.get("speakerId")
            speaker = names.get(str(speaker_id), speaker_id)
            for sentence in monologue.get("sentences") or []:
                if isinstance(sentence, Mapping):
                    turns.append({**sentence, "speaker": speaker})
    return _from_turns(turns, milliseconds=True)


def _first(turn: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if turn.get(key) is not None:
            return turn[key]
    return None


def _speaker_label(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    label = str(value).strip()
    if label.isdigit() or (len(label) == 1 and label.isalpha()):
        return f"Speaker {label}"
    return label or None


def _seconds(value: Any, scale: float) -> float | None:
    """Numbers are seconds (or ms, when `scale` says so); strings may be clocks or numbers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if ":" in value:
            return parse_clock(value)
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value) / scale
    return None
