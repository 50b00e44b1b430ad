"""A disfluency-free view of a spoken sentence that still maps back to the exact original text.

Speech is full of fillers and restarts ("I I'll um send"), so cue patterns run on a cleaned,
lower-cased token string; `CleanText.span` turns a match back into offsets of the original, which
keeps every evidence quote an exact substring of what was said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FILLERS = frozenset("um umm uh uhh er erm mm mmm hmm mm-hmm uh-huh ah oh eh huh hm".split())
_WORD = re.compile(r"[\w'’-]+")
_SENTENCE = re.compile(r"[^.!?;]+(?:[.!?;]+|$)")
_CLAUSE_BREAK = re.compile(
    r"(?:,\s*|\s+)(?=(?:and then|and|but|so|then|also|plus)\s+(?:I|we|you|I'll|I'm|we'll|we're|"
    r"you'll|you're|let me|let's|can you|could you)\b)",
    re.IGNORECASE,
)


# "…, Poppy will be working on the design": a named person's promise after a comma.
_NAMED_BREAK = re.compile(
    r",\s*(?=[A-Z][a-z]+(?: and [A-Z][a-z]+)? (?:will|'ll|is gonna|is going to)\b)"
)


@dataclass(frozen=True, slots=True)
class CleanText:
    """Lower-cased words without fillers or stutters, with each word's span in the original."""

    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    text: str  # " ".join(words)
    starts: tuple[int, ...]  # offset of each word in `text`

    def word_at(self, char_index: int) -> int:
        """Index of the word that starts at or before `char_index` of `text`."""
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= char_index:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def span(self, first_word: int, last_word: int) -> tuple[int, int]:
        """Original offsets covering words first..last inclusive."""
        return self.spans[first_word][0], self.spans[last_word][1]


def clean(sentence: str, offset: int = 0) -> CleanText:
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(sentence):
        word = m.group().lower().replace("’", "'").strip("'-")
        if not word or word in FILLERS:
            continue
        if words and word == words[-1] and word not in {"that", "had", "very"}:
            continue  # stutter: "I I", "the the"
        words.append(word)
        spans.append((m.start() + offset, m.end() + offset))
    starts: list[int] = []
    pos = 0
    for word in words:
        starts.append(pos)
        pos += len(word) + 1
    return CleanText(tuple(words), tuple(spans), " ".join(words), tuple(starts))


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of an utterance, whitespace trimmed."""
    out = []
    for m in _SENTENCE.finditer(text):
        start, end = _trim(text, m.start(), m.end())
        if end > start:
            out.append((start, end))
    return out


def clauses(text: str) -> list[tuple[int, int]]:
    """Sentences, further split where a conjunction starts a new promise.

    "I'll send the guide by Friday, and I can set up a session next week" holds two tasks with
    two due dates; each clause is read on its own.
    """
    out = []
    for start, end in sentences(text):
        cut = start
        breaks = sorted(
            [m.start() for m in _CLAUSE_BREAK.finditer(text, start, end)]
            + [m.start() for m in _NAMED_BREAK.finditer(text, start, end)]
        )
        for at in breaks:
            if at - cut >= 12:
                out.append(_trim(text, cut, at))
                cut = at
        out.append(_trim(text, cut, end))
    return [(s, e) for s, e in out if e > s]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] == ","):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
