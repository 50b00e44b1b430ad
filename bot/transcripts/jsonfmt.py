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
- Fireflies GraphQL: ``{"data": {"transcript": {"sentences": [...]}}}`` (the API answer as
  saved) — same sentences as above.
- Deepgram: ``{"metadata", "results": {"utterances": [{"speaker", "transcript", "start",
  "end"}], "channels": [{"alternatives": [{"transcript", "paragraphs": {"paragraphs":
  [{"speaker", "sentences": [{"text", "start", "end"}]}]}, "words": [{"word",
  "punctuated_word", "speaker", "start", "end"}]}]}]}}`` — seconds; utterances when present,
  else paragraphs, else words grouped by speaker, else the channel's transcript.
- Rev.ai: ``{"monologues": [{"speaker": 0, "speaker_info"?: {"display_name"}, "elements":
  [{"type": "text"|"punct", "value", "ts", "end_ts"}]}]}`` — seconds; the elements' values
  joined make the text (punct elements carry the spaces).
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
    "This JSON file isn't a transcript layout I know ({seen}). I can read a list of "
    '{{"speaker", "text", "start"}} entries, and exports from AssemblyAI, Deepgram, Rev.ai, '
    "Whisper/WhisperX, Otter, Fireflies and Gong. Export the transcript as .vtt, .docx or "
    ".txt instead, or ask your admin to add this layout."
)


def _unknown(document: Any) -> TranscriptError:
    """The refusal, naming what the file holds so the uploader can tell what it is."""
    if isinstance(document, dict):
        keys = ", ".join(sorted(str(k) for k in document)[:8]) or "none"
        seen = f"an object with the keys {keys}"
    elif isinstance(document, list):
        kinds = sorted({type(item).__name__ for item in document[:50]}) or ["nothing"]
        seen = f"a list of {len(document)} item(s) of type {', '.join(kinds)}"
    else:
        seen = f"a single {type(document).__name__} value"
    return TranscriptError(_UNKNOWN_SHAPE.format(seen=seen))


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
        return _from_turns(document, milliseconds=False, whole=document)
    if not isinstance(document, dict):
        raise _unknown(document)
    wrapped = _graphql_transcript(document)
    if wrapped is not None:
        return _from_document(wrapped)
    if isinstance(document.get("callTranscripts"), list):
        return _from_gong(document)
    if isinstance(document.get("results"), Mapping):
        return _from_deepgram(document)
    if isinstance(document.get("monologues"), list):
        return _from_rev(document["monologues"])
    if isinstance(document.get("utterances"), list):
        return _from_turns(document["utterances"], milliseconds=True)
    for key in ("transcript", "segments", "sentences"):
        if isinstance(document.get(key), list):
            return _from_turns(document[key], milliseconds=False)
    for key in ("text", "transcript"):
        if isinstance(document.get(key), str):
            return FormatResult([Utterance(None, document[key], None)])
    raise _unknown(document)


def _graphql_transcript(document: Mapping[str, Any]) -> Any:
    """The transcript inside a saved GraphQL answer (Fireflies: data.transcript)."""
    data = document.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("transcript"), Mapping):
        return data["transcript"]
    return None


def _from_deepgram(document: Mapping[str, Any]) -> FormatResult:
    results = document["results"]
    if isinstance(results.get("utterances"), list) and results["utterances"]:
        return _from_turns(results["utterances"], milliseconds=False)
    channels = results.get("channels")
    alternative = None
    if isinstance(channels, list) and channels and isinstance(channels[0], Mapping):
        alternatives = channels[0].get("alternatives")
        if isinstance(alternatives, list) and alternatives:
            alternative = alternatives[0]
    if not isinstance(alternative, Mapping):
        raise _unknown(document)
    paragraphs = alternative.get("paragraphs")
    if isinstance(paragraphs, Mapping) and isinstance(paragraphs.get("paragraphs"), list):
        turns = [
            {
                "speaker": paragraph.get("speaker"),
                "text": " ".join(
                    str(s.get("text", ""))
                    for s in paragraph.get("sentences") or []
                    if isinstance(s, Mapping)
                ),
                "start": paragraph.get("start"),
                "end": paragraph.get("end"),
            }
            for paragraph in paragraphs["paragraphs"]
            if isinstance(paragraph, Mapping)
        ]
        return _from_turns(turns, milliseconds=False)
    words = alternative.get("words")
    if (
        isinstance(words, list)
        and words
        and any(isinstance(w, Mapping) and "speaker" in w for w in words)
    ):
        return _from_turns(_words_by_speaker(words), milliseconds=False)
    if isinstance(alternative.get("transcript"), str):
        return FormatResult([Utterance(None, alternative["transcript"], None)])
    raise _unknown(document)


def _words_by_speaker(words: list[Any]) -> list[dict[str, Any]]:
    """Consecutive words of one speaker as one turn (Deepgram without utterances/paragraphs)."""
    turns: list[dict[str, Any]] = []
    for word in words:
        if not isinstance(word, Mapping):
            continue
        text = word.get("punctuated_word") or word.get("word")
        if not isinstance(text, str):
            continue
        speaker = word.get("speaker")
        if turns and turns[-1]["speaker"] == speaker:
            turns[-1]["text"] += " " + text
            turns[-1]["end"] = word.get("end")
        else:
            turns.append(
                {
                    "speaker": speaker,
                    "text": text,
                    "start": word.get("start"),
                    "end": word.get("end"),
                }
            )
    return turns


def _from_rev(monologues: list[Any]) -> FormatResult:
    turns: list[dict[str, Any]] = []
    for monologue in monologues:
        if not isinstance(monologue, Mapping):
            continue
        elements = [e for e in monologue.get("elements") or [] if isinstance(e, Mapping)]
        timed = [e for e in elements if e.get("type") == "text"]
        info = monologue.get("speaker_info")
        name = info.get("display_name") if isinstance(info, Mapping) else None
        turns.append(
            {
                "speaker": name or monologue.get("speaker"),
                "text": "".join(str(e.get("value", "")) for e in elements),
                "start": timed[0].get("ts") if timed else None,
                "end": timed[-1].get("end_ts") if timed else None,
            }
        )
    return _from_turns(turns, milliseconds=False)


def _from_turns(turns: list[Any], *, milliseconds: bool, whole: Any = None) -> FormatResult:
    scale = 1000.0 if milliseconds else 1.0
    utterances: list[Utterance] = []
    end: float | None = None
    for turn in turns:
        if not isinstance(turn, Mapping):
            raise _unknown(whole if whole is not None else turns)
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
