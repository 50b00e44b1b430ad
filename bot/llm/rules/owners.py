"""Who a promise belongs to: the speaker, or the person it was handed to.

Speakers are known only by their transcript labels ("Priya Shah", "Speaker B", a role). A label
is recognised in speech by its full form, by a distinctive first or last word ("Priya"), or by its
initials when spelled out in capitals ("UID", "U_I_D_").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm.rules.lexicon import GENERIC_LABEL_WORDS
from bot.transcripts.model import Utterance

_NOT_NAMES = frozenset(
    "i it that this there they he she we you which what and so but then well okay ok yeah yes "
    "no now also maybe everyone everybody someone somebody nobody who one thing things team "
    "group all both each either neither here where when why how if or because let let's".split()
)


@dataclass(frozen=True, slots=True)
class SpeakerIndex:
    """Aliases of every speaker label, to recognise who is named in a sentence."""

    speakers: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]  # (lower-case alias, label), longest first
    initials: tuple[tuple[str, str], ...]  # (upper-case initials, label)

    @classmethod
    def build(cls, utterances: Sequence[Utterance]) -> SpeakerIndex:
        speakers = tuple(dict.fromkeys(u.speaker for u in utterances if u.speaker))
        words = {s: re.findall(r"[\w-]+", s.lower()) for s in speakers}
        aliases: list[tuple[str, str]] = []
        initials: list[tuple[str, str]] = []
        for label, ws in words.items():
            aliases.append((" ".join(ws), label))
            for w in {ws[0], ws[-1]} if len(ws) > 1 else set():
                unique = sum(w in other for other in words.values()) == 1
                if unique and len(w) >= 3 and w not in GENERIC_LABEL_WORDS and not w.isdigit():
                    aliases.append((w, label))
            # parts of a role: "user interface" / "interface" for "User Interface Designer"
            for n in range(2, len(ws)):
                for k in range(len(ws) - n + 1):
                    part = " ".join(ws[k : k + n])
                    if sum(f" {part} " in f" {' '.join(o)} " for o in words.values()) == 1:
                        aliases.append((part, label))
            for w in ws[1:-1]:
                unique = sum(w in other for other in words.values()) == 1
                if unique and len(w) >= 5 and w not in GENERIC_LABEL_WORDS:
                    aliases.append((w, label))
            if len(ws) > 1 and all(w[0].isalpha() for w in ws):
                initials.append(("".join(w[0] for w in ws).upper(), label))
        aliases.sort(key=lambda a: -len(a[0]))
        return cls(speakers, tuple(aliases), tuple(initials))

    def mentioned(self, text: str, exclude: str | None = None) -> list[str]:
        """Speaker labels named in `text`, in order of appearance, without `exclude`."""
        low = " " + " ".join(re.findall(r"[\w-]+", text.lower())) + " "
        found: list[tuple[int, str]] = []
        for alias, label in self.aliases:
            pos = low.find(f" {alias} ")
            if pos >= 0 and label != exclude and all(label != f[1] for f in found):
                found.append((pos, label))
        for caps, label in self.initials:
            for m in re.finditer(r"\b[A-Z](?:[._]?[A-Z])+[._]?(?![\w])", text):
                if re.sub(r"[._]", "", m.group()) == caps and label != exclude:
                    if all(label != f[1] for f in found):
                        found.append((len(low), label))
        return [label for _, label in sorted(found)]

    def mention_at(self, words: tuple[str, ...]) -> tuple[str, int, int] | None:
        """(label, first word, last word) of the first speaker named in cleaned `words`."""
        best: tuple[str, int, int] | None = None
        for alias, label in self.aliases:
            size = len(alias.split())
            for k in range(len(words) - size + 1):
                if " ".join(words[k : k + size]) == alias:
                    if best is None or k < best[1]:
                        best = (label, k, k + size - 1)
                    break
        return best


def named_person(
    original_subject: str, index: SpeakerIndex, speaker: str | None
) -> tuple[str | None, str | None]:
    """(speaker label, name as said) for the subject of a third-person cue, else (None, None).

    A label wins; otherwise a capitalised word that is not a pronoun is taken as a person who is
    not on the call (owner unknown, but the name goes into the text).
    """
    labels = index.mentioned(original_subject)
    if labels:
        return labels[-1], labels[-1]
    tokens = re.findall(r"[\w'-]+", original_subject)
    if tokens and tokens[-1][:1].isupper() and tokens[-1].lower() not in _NOT_NAMES:
        if tokens[-1].isalpha() and len(tokens[-1]) > 1:
            return None, tokens[-1]
    return None, None


def addressee(
    utterances: Sequence[Utterance], i: int, sentence: str, index: SpeakerIndex
) -> str | None:
    """Whom a "you" task in utterance `i` is handed to.

    In order: a speaker named in the sentence, or in the same speaker's short turn just before
    ("Industrial Designer. You'll be …"); the only other speaker of a two-person call; the next
    different speaker within two turns.
    """
    speaker = utterances[i].speaker
    named = index.mentioned(sentence, exclude=speaker)
    if named:
        return named[0]
    for j in (i - 1, i - 2):
        if j >= 0 and utterances[j].speaker == speaker and len(utterances[j].text.split()) <= 8:
            named = index.mentioned(utterances[j].text, exclude=speaker)
            if named:
                return named[-1]
        elif j >= 0:
            break
    others = [s for s in index.speakers if s != speaker]
    if len(others) == 1:
        return others[0]
    for j in range(i + 1, min(i + 3, len(utterances))):
        if utterances[j].speaker and utterances[j].speaker != speaker:
            return utterances[j].speaker
    return None
