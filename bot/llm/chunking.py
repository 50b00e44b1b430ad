"""Split a long transcript into overlapping windows that each fit one LLM request.

Windows are cut on utterance boundaries (never mid-sentence) and overlap by a few utterances,
so a promise that straddles a cut is seen whole by at least one request. Every window keeps
the global index of its first utterance, so answers can point back into the full transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.transcripts.model import Utterance


@dataclass(frozen=True, slots=True)
class Chunk:
    """A window of consecutive utterances; `start` is the global index of the first one."""

    start: int
    utterances: tuple[Utterance, ...]

    @property
    def stop(self) -> int:
        """Global index one past the last utterance (like `range`)."""
        return self.start + len(self.utterances)

    @property
    def indices(self) -> range:
        return range(self.start, self.stop)

    def indexed(self) -> list[tuple[int, Utterance]]:
        """(global index, utterance) pairs, in order."""
        return list(zip(self.indices, self.utterances, strict=True))


def word_count(utterance: Utterance) -> int:
    """Words an utterance costs in a window: its text plus its speaker label."""
    return len(utterance.text.split()) + len((utterance.speaker or "").split())


def chunk_utterances(
    utterances: Sequence[Utterance], max_words: int = 2500, overlap: int = 6
) -> list[Chunk]:
    """Cut `utterances` into windows of at most `max_words` words, overlapping by `overlap`.

    A single utterance longer than `max_words` gets a window of its own rather than being
    split. Every window after the first starts `overlap` utterances before the previous one
    ended, but always at least one utterance later than the previous start, so the loop ends.
    """
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    if overlap < 0:
        raise ValueError("overlap must not be negative")
    items = list(utterances)
    chunks: list[Chunk] = []
    start = 0
    while start < len(items):
        stop = start
        words = 0
        while stop < len(items):
            cost = word_count(items[stop])
            if stop > start and words + cost > max_words:
                break
            words += cost
            stop += 1
        chunks.append(Chunk(start=start, utterances=tuple(items[start:stop])))
        if stop >= len(items):
            break
        start = max(stop - overlap, start + 1)
    return chunks
