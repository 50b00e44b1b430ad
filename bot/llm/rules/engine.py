"""The offline commitment extractor: deterministic rules over the words of promising.

Pipeline: split each turn into sentences → find promise cues (cues.py) → score each with the
context a human would use (a due date, a concrete deliverable, the wrap-up of the call where next
steps are handed out, several assignments in a row) → keep those above a threshold → merge
repeats of the same task → resolve owner, side, due date, category and a third-person text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm.base import CallContext, Commitment, ExtractionResult, Side
from bot.llm.dates import resolve_due
from bot.llm.rules.cues import Cue, Kind, find_cues, lemma, looks_like_question
from bot.llm.rules.lexicon import WRAP_UP_MARKERS
from bot.llm.rules.owners import SpeakerIndex, addressee, named_person
from bot.llm.rules.phrasing import THEY, Category, category_of, compose
from bot.llm.rules.tokens import CleanText, clauses, clean
from bot.transcripts.model import Utterance

THRESHOLD = 3.0  # score at which a cue becomes a commitment (confidence 0.5); tuned on even split
MERGE_WINDOW = 3  # utterances apart that can still be the same task
MARKER_REACH = 12  # turns after a "next steps" marker that count as wrap-up
MARKER_WEIGHT = 0.9

_MARKERS = re.compile(r"\b(" + "|".join(re.escape(m) for m in WRAP_UP_MARKERS) + r")\b")
_CONTENT = re.compile(r"[a-z0-9]{3,}")
_NOT_VOCATIVE = frozenset(
    "okay ok so and well now yeah yes right um uh hmm mm oh ah alright sure great cool then "
    "also but actually anyway first second next finally again sorry thanks please look listen "
    "hey hi hello no".split()
)
_WEAK_OBJECT = frozenset("it that this one them something thing things stuff".split())


@dataclass
class _Candidate:
    index: int  # utterance index
    evidence: str
    cue: Cue
    clean: CleanText
    sentence: str
    score: float
    owner: str | None = None
    subject: str = ""
    me: str | None = THEY  # whom "I/me" in the verb phrase stands for
    you: str | None = None  # whom "you" stands for; None: leave as spoken
    us: str | None = THEY


class RulesEngine:
    """Extraction without a model: fast, deterministic, and the fallback for the LLM engine."""

    name = "rules"

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult:
        candidates = self._candidates(utterances, context)
        _boost_clusters(candidates)
        kept = [c for c in candidates if c.score >= self.threshold]
        merged = _merge(kept)
        return ExtractionResult(
            engine=self.name, commitments=[_to_commitment(c, context) for c in merged]
        )

    def _candidates(
        self, utterances: Sequence[Utterance], context: CallContext
    ) -> list[_Candidate]:
        index = SpeakerIndex.build(utterances)
        wrap_up = _wrap_up_turns(utterances)
        out: list[_Candidate] = []
        for i, utt in enumerate(utterances):
            for start, end in clauses(utt.text):
                sentence = utt.text[start:end]
                cleaned = clean(sentence)
                if len(cleaned.words) < 3:
                    continue
                cues = find_cues(cleaned, looks_like_question(sentence, cleaned))
                best = self._best(utterances, i, sentence, cleaned, cues, index, context)
                if best is None:
                    continue
                best.score += wrap_up.get(i, 0.0)
                out.append(best)
        return out

    def _best(
        self,
        utterances: Sequence[Utterance],
        i: int,
        sentence: str,
        cleaned: CleanText,
        cues: list[Cue],
        index: SpeakerIndex,
        context: CallContext,
    ) -> _Candidate | None:
        speaker = utterances[i].speaker
        best: _Candidate | None = None
        for cue in cues:
            cand = _Candidate(
                i, _evidence(utterances[i].text, sentence), cue, cleaned, sentence, cue.strength
            )
            if not _resolve_owner(cand, utterances, index, speaker, context):
                continue
            cand.score += _content_bonus(cleaned, cue, sentence, context)
            if best is None or cand.score > best.score:
                best = cand
        return best


def _evidence(utterance: str, sentence: str) -> str:
    """The sentence as spoken; a very short one is widened to the whole turn."""
    return sentence if len(sentence) >= 12 else utterance.strip() or sentence


def _resolve_owner(
    cand: _Candidate,
    utterances: Sequence[Utterance],
    index: SpeakerIndex,
    speaker: str | None,
    context: CallContext,
) -> bool:
    kind = cand.cue.kind
    who = speaker or "The speaker"
    listener = _listener(utterances, cand.index, index, speaker, context)
    if kind in (Kind.SELF, Kind.TEAM):
        cand.owner, cand.subject, cand.you = speaker, who, listener
        if kind is Kind.TEAM:
            cand.subject = f"{who}'s team"
        return True
    cand.me, cand.us, cand.you = who, who, THEY
    if kind is Kind.GROUP:
        cand.owner, cand.subject = None, "The group"
    elif kind in (Kind.ASSIGN, Kind.REQUEST):
        cand.owner = addressee(utterances, cand.index, cand.sentence, index)
        vocative = _vocative(cand.sentence, index)
        cand.subject = cand.owner or vocative or f"Someone asked by {who}"
        if cand.owner is None and vocative is None and kind is Kind.ASSIGN:
            cand.score -= 0.3
    else:  # THIRD
        original_subject = _original_subject(cand)
        label, name = named_person(original_subject, index, speaker)
        if name is None:
            return False
        cand.owner, cand.subject, cand.you = label, name, listener
        cand.score += 0.3  # an explicit name is clearer than "you"
    return True


def _original_subject(cand: _Candidate) -> str:
    """The subject words of a THIRD cue in their original spelling and case."""
    first = cand.cue.cue_word
    last = cand.cue.verb_word - 1
    start, _ = cand.clean.spans[first]
    _, end = cand.clean.spans[max(first, last)]
    return cand.sentence[start:end]


def _vocative(sentence: str, index: SpeakerIndex) -> str | None:
    """A name the speaker addresses, as in "Nathan, I'd like you to …"."""
    m = re.match(r"\W*(?:(?:and|so|okay|um|uh)\W+)*([A-Z][a-z]+)\s*,", sentence)
    if m and m.group(1).lower() not in _NOT_VOCATIVE:
        return m.group(1)
    return None


def _listener(
    utterances: Sequence[Utterance],
    i: int,
    index: SpeakerIndex,
    speaker: str | None,
    context: CallContext,
) -> str | None:
    """Who "you" means in the speaker's own promise: the other side, else the account."""
    if speaker in context.our_speakers and context.account_name:
        return context.account_name
    if speaker in context.customer_speakers and len(context.our_speakers) == 1:
        return context.our_speakers[0]
    others = [s for s in index.speakers if s != speaker]
    if len(others) == 1:
        return others[0]
    return None


def _content_bonus(cleaned: CleanText, cue: Cue, sentence: str, context: CallContext) -> float:
    """Concrete deliverables and deadlines make a promise; vague objects ("do it") don't."""
    bonus = 0.0
    due, phrase = resolve_due(sentence, context.call_date)
    if due is not None and not re.search(r"minute|second|moment", phrase or ""):
        bonus += 1.0  # a deadline; "in a minute" is about the call itself
    elif re.search(r"\b(next (?:meeting|call|session|time)|by then|before then)\b", cleaned.text):
        bonus += 0.5
    if category_of(sentence) is not Category.OTHER:
        bonus += 0.3
    rest = [w for w in cleaned.words[cue.verb_word + 1 :] if _CONTENT.fullmatch(w)]
    objects = [w for w in rest if w not in _WEAK_OBJECT]
    if len(objects) < 2:
        bonus -= 0.6
    if cue.kind is Kind.SELF and re.search(r"\b(now|right now|real quick|first)\b", cleaned.text):
        bonus -= 0.5  # an action on the call itself: "I'll take this out now"
    return bonus


def _wrap_up_turns(utterances: Sequence[Utterance]) -> dict[int, float]:
    """Bonus for turns just after a "next steps" / "next meeting" marker.

    Tasks are handed out when people talk about what happens next. (The call's position alone,
    e.g. its last fifth, was tried as a signal: no better on held-out meetings, and riskier on
    customer calls, where promises come throughout.)
    """
    n = len(utterances)
    weights: dict[int, float] = {}
    for i, utt in enumerate(utterances):
        if _MARKERS.search(utt.text.lower()):
            for j in range(i, min(n, i + MARKER_REACH)):
                weights[j] = max(weights.get(j, 0.0), MARKER_WEIGHT)
    return weights


def _boost_clusters(candidates: list[_Candidate]) -> None:
    """Several task hand-outs in a row by one speaker is a next-steps list: lift each a little."""
    strong = [c for c in candidates if c.score >= 2.5]
    for c in candidates:
        near = sum(
            1
            for o in strong
            if o is not c
            and abs(o.index - c.index) <= 3
            and o.cue.kind in (Kind.ASSIGN, Kind.REQUEST, Kind.THIRD, Kind.GROUP, Kind.SELF)
        )
        c.score += min(near, 2) * 0.3


def _content_words(c: _Candidate) -> set[str]:
    return {w for w in c.clean.words[c.cue.verb_word :] if _CONTENT.fullmatch(w)}


def _same_task(a: _Candidate, b: _Candidate) -> bool:
    """Same owner, close together, and the same verb or mostly the same words."""
    if abs(a.index - b.index) > MERGE_WINDOW or a.owner != b.owner:
        return False
    if a.owner is None and a.subject != b.subject:
        return False
    same_verb = lemma(a.clean.words[a.cue.verb_word]) == lemma(b.clean.words[b.cue.verb_word])
    if a.owner is not None and same_verb and abs(a.index - b.index) <= 2:
        return True
    wa, wb = _content_words(a), _content_words(b)
    if not wa or not wb or len(wa) < 2 or len(wb) < 2:
        return True
    return len(wa & wb) / len(wa | wb) >= 0.3


def _merge(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep the strongest of several predictions that point at the same spoken task."""
    kept: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: (-c.score, c.index)):
        if not any(_same_task(c, k) for k in kept):
            kept.append(c)
    return sorted(kept, key=lambda c: c.index)


def _side(owner: str | None, context: CallContext) -> Side:
    if owner and owner in context.our_speakers:
        return Side.OURS
    if owner and owner in context.customer_speakers:
        return Side.CUSTOMER
    return Side.UNKNOWN


def _to_commitment(c: _Candidate, context: CallContext) -> Commitment:
    due, phrase = resolve_due(c.sentence, context.call_date)
    text = compose(c.subject, c.clean, c.sentence, c.cue.verb_word, me=c.me, you=c.you, us=c.us)
    confidence = 1.0 / (1.0 + math.exp(-(c.score - THRESHOLD)))
    return Commitment(
        owner=c.owner,
        side=_side(c.owner, context),
        text=text,
        due=due,
        due_phrase=phrase,
        category=category_of(c.sentence),
        evidence=c.evidence,
        confidence=round(min(0.99, max(0.5, confidence)), 2),
        utterance_index=c.index,
    )
