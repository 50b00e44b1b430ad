"""The one shape every transcript format is normalised to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Utterance:
    """One turn of speech: who said it, what, and when (seconds from the start, if known)."""

    speaker: str | None
    text: str
    start: float | None = None


class TranscriptError(ValueError):
    """A file that cannot be read as a transcript; the message is shown to the user as is."""


@dataclass(frozen=True, slots=True)
class FormatResult:
    """What one format parser found, before the shared clean-up (normalise, drop, merge).

    `duration_seconds` is set by formats that know when speech ends (cue or segment end
    times); `skipped_cues` counts cues dropped for broken timestamps, so callers can warn.
    """

    utterances: list[Utterance] = field(default_factory=list)
    duration_seconds: float | None = None
    skipped_cues: int = 0
