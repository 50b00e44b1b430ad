"""Merge commitments found by several overlapping requests into one list without duplicates.

Overlapping chunks (and models that repeat themselves) report the same promise more than
once. Two items are the same promise when they quote the same evidence, point at the same
utterance for the same owner, or say nearly the same thing for the same owner. The surviving
item is the most confident one, completed with a due date the other had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from bot.llm.base import Commitment

NEAR_IDENTICAL = 0.9

_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Case-folded words separated by single spaces; punctuation and quotes don't count."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def _same_owner(a: Commitment, b: Commitment) -> bool:
    return (a.owner or "").casefold() == (b.owner or "").casefold()


def is_duplicate(a: Commitment, b: Commitment) -> bool:
    """True when `a` and `b` describe the same spoken promise."""
    if normalise(a.evidence) and normalise(a.evidence) == normalise(b.evidence):
        return True
    if not _same_owner(a, b):
        return False
    if a.utterance_index is not None and a.utterance_index == b.utterance_index:
        return True
    ratio = SequenceMatcher(None, normalise(a.text), normalise(b.text)).ratio()
    return ratio >= NEAR_IDENTICAL


def _combine(kept: Commitment, other: Commitment) -> Commitment:
    """The more confident of two duplicates, borrowing a due date only the other one has."""
    best, rest = (kept, other) if kept.confidence >= other.confidence else (other, kept)
    if best.due is None and rest.due is not None:
        best = best.model_copy(update={"due": rest.due, "due_phrase": rest.due_phrase})
    return best


def merge_commitments(items: Iterable[Commitment]) -> list[Commitment]:
    """Deduplicate `items`, then order them by where they were said (unknown places last)."""
    merged: list[Commitment] = []
    for item in items:
        for position, existing in enumerate(merged):
            if is_duplicate(existing, item):
                merged[position] = _combine(existing, item)
                break
        else:
            merged.append(item)
    return sorted(
        merged,
        key=lambda c: (c.utterance_index is None, c.utterance_index or 0),
    )
