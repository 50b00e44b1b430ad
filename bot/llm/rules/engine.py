"""The offline commitment extractor: deterministic rules over the words of promising.

Pipeline: split each turn into sentences → find promise cues (cues.py) → score each with the
context a human would use (a due date, a concrete deliverable, the wrap-up of the call where next
steps are handed out, several assignments in a row) → pair requests and offers with their answers
(dialogue.py: the one who accepts owns the promise, a refusal cancels it) → keep those above a
threshold → merge repeats and restatements of the same task → resolve owner, side, due date (from
the sentence, else the rest of the turn or a short neighbouring turn), category and a
third-person text. A promise made with reservations ("I'll try…, no promises") is kept with a
confidence below 0.5, so the review shows it as tentative; one made under a condition ("Once I
have the key, I'll…") is kept with its condition in the text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm.base import CallContext, Commitment, ExtractionResult, Side
from bot.llm.dates import resolve_due
from bot.llm.rules import dialogue
from bot.llm.rules.cues import Cue, Kind, find_cues, lemma, looks_like_question
from bot.llm.rules.lexicon import WRAP_UP_MARKERS
from bot.llm.rules.owners import SpeakerIndex, addressee, named_person
from bot.llm.rules.phrasing import THEY, Category, category_of, compose, phrase
from bot.llm.rules.tokens import CleanText, clauses, clean, sentences
from bot.transcripts.model import Utterance

THRESHOLD = 3.0  # score at which a cue becomes a commitment (confidence 0.5); tuned on even split
MERGE_WINDOW = 3  # utterances apart that can still be the same task
MARKER_REACH = 12  # turns after a "next steps" marker that count as wrap-up
MARKER_WEIGHT = 0.9
ANSWERED = 1.0  # a promise made in answer to a request, or an offer the other side took
UNANSWERED_REQUEST = -0.3
RESTATED_REACH = 15  # utterances apart that a restatement of the same task may be
HEDGED_CONFIDENCE = 0.4  # below 0.5: shown as tentative in the review
NEAR_TURN_WORDS = 12  # a neighbouring turn this short may carry the due date ("Um, Wednesday?")
_HEDGE_TAIL = re.compile(
    r"\b(?:no promises|can'?t promise|cannot promise|wouldn'?t count on it|don'?t hold me to|"
    r"not sure (?:i|we) can|no guarantees?|can'?t guarantee|cannot guarantee|fingers crossed|"
    r"if i can|if we can|i'll try|we'll try|i will try|i'?m gonna try|i'?m going to try)\b"
)
_RECAP = re.compile(r"\b(?:to recap|recap|to summari[sz]e|so just to|in summary|action items)\b")

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
    spoken_at: int = -1  # the turn where the promise was made (an answer's turn, if paired)
    answer: str | None = None  # the accepting answer, as said, when the promise is cross-turn
    hedged: bool = False
    due_hint: str = ""  # neighbouring words that may carry the due date (the request's turn)
    turn: str = ""  # the whole turn the sentence is from
    due: dt.date | None = None
    due_phrase: str | None = None

    def __post_init__(self) -> None:
        if self.spoken_at < 0:
            self.spoken_at = self.index
        if not self.turn:
            self.turn = self.sentence
        self.hedged = self.hedged or self.cue.hedged


class RulesEngine:
    """Extraction without a model: fast, deterministic, and the fallback for the LLM engine."""

    name = "rules"

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult:
        candidates = self._candidates(utterances, context)
        candidates = _pair_answers(candidates, utterances, self.threshold)
        _boost_clusters(candidates)
        for c in candidates:
            c.due, c.due_phrase = _due(c, utterances, context)
        kept = [c for c in candidates if c.score >= self.threshold and _says_a_task(c)]
        _borrow_dues(kept, [c for c in candidates if c not in kept])
        merged = _merge(kept)
        return ExtractionResult(
            engine=self.name,
            commitments=[_to_commitment(c, utterances, context) for c in merged],
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
                if best is None and i in wrap_up:
                    best = _handout(utterances, i, sentence, cleaned, index)
                if best is None:
                    continue
                best.score += wrap_up.get(i, 0.0)
                best.turn = utt.text
                best.hedged = best.hedged or bool(_HEDGE_TAIL.search(utt.text.lower()))
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
            if not cleaned.words[cue.verb_word + 1 :] and cue.kind in (Kind.ASSIGN, Kind.REQUEST):
                continue  # "you'll be working, Poppy will be working on the design": the next
            cand = _Candidate(
                i, _evidence(utterances[i].text, sentence), cue, cleaned, sentence, cue.strength
            )
            if not _resolve_owner(cand, utterances, index, speaker, context):
                continue
            cand.score += _content_bonus(cleaned, cue, sentence, context)
            if best is None or cand.score > best.score:
                best = cand
        return best


_HANDING_OUT = re.compile(r"^(?:you'll|you will|you're gonna|you're going to|you are going to)\b")
QUESTION_PENALTY = 2.0  # what cues.py takes off a promise cue said as a question


def _asked(c: _Candidate) -> bool:
    """A task handed out as a question ("Olivia, you'll present it, right?")."""
    if c.cue.kind not in (Kind.ASSIGN, Kind.THIRD) or not looks_like_question(c.sentence, c.clean):
        return False
    modal = " ".join(c.clean.words[c.cue.cue_word : c.cue.cue_word + 4])
    return bool(_HANDING_OUT.match(modal)) or c.cue.kind is Kind.THIRD


_OPINION = re.compile(r"^would you(?! (?:please|mind|be able|be willing|be ok|be okay|like to))")


_HANDOUT_LEAD = frozenset("with on for to is will and the a an uh um your their his her".split())
HANDOUT_STRENGTH = 2.3
_CLAUSE_AFTER_NAME = frozenset(
    "i we you he she they it has have had is was are were will would can could should said says "
    "'s did does do just also".split()
)


def _handout(
    utterances: Sequence[Utterance], i: int, sentence: str, cleaned: CleanText, index: SpeakerIndex
) -> _Candidate | None:
    """A task handed out by naming the person, as next steps are read out: "and the marketing
    expert with the product evaluation", "for user interface, technical functions"."""
    if looks_like_question(sentence, cleaned):
        return None
    speaker = utterances[i].speaker
    found = index.mention_at(cleaned.words)
    if found is None or found[0] == speaker:
        return None
    label, _, last = found
    if last + 1 < len(cleaned.words) and cleaned.words[last + 1] in _CLAUSE_AFTER_NAME:
        return None  # "Marco, I also need…", "Mei has the numbers": a sentence, not a hand-out
    verb = last + 1
    while verb < len(cleaned.words) and cleaned.words[verb] in _HANDOUT_LEAD:
        verb += 1
    task = [w for w in cleaned.words[verb:] if _CONTENT.fullmatch(w) and w not in _WEAK_OBJECT]
    if len(task) < 2 or index.mention_at(cleaned.words[verb:]) is not None:
        return None
    cue = Cue(Kind.ASSIGN, HANDOUT_STRENGTH, found[1], verb, verb="work on")
    cand = _Candidate(
        i, _evidence(utterances[i].text, sentence), cue, cleaned, sentence, HANDOUT_STRENGTH
    )
    cand.owner, cand.subject, cand.me = label, label, speaker or THEY
    cand.us = speaker or THEY
    return cand


WEAK_VERB = 0.5


def _says_a_task(c: _Candidate) -> bool:
    """Context lifts a cue (the wrap-up, a run of hand-outs), but not one whose words name no
    task: an unknown verb with nothing after it, or a request with no object ("Can you
    reach,")."""
    after = c.clean.words[c.cue.verb_word + 1 :]
    if c.cue.weight < WEAK_VERB and c.due is None and c.answer is None:
        return bool(resolve_due(c.sentence, dt.date(2000, 1, 1))[0])
    return bool(after) or c.cue.kind not in (Kind.REQUEST, Kind.ASSIGN) or c.cue.verb is not None


def _is_request(c: _Candidate) -> bool:
    """Asked of someone else: "can you…", or a question that hands out a task. "Would you
    prefer…" / "would you pay more…" ask for an opinion, not for work."""
    if c.cue.kind is Kind.REQUEST:
        return not _OPINION.match(" ".join(c.clean.words[c.cue.cue_word :]))
    return _asked(c)


def _pair_answers(
    cands: list[_Candidate], utterances: Sequence[Utterance], threshold: float
) -> list[_Candidate]:
    """Requests and offers settled by the next turn of someone else (see dialogue.py)."""
    by_turn: dict[int, list[_Candidate]] = {}
    for c in cands:
        by_turn.setdefault(c.index, []).append(c)
    dropped: set[int] = set()
    settled: set[int] = set()  # answers that already took a request's task
    for c in cands:
        if id(c) in settled:
            continue
        j = dialogue.answer_turn(utterances, c.index)
        answer = dialogue.classify(utterances[j].text) if j is not None else dialogue.Answer.NONE
        own = [
            o
            for o in by_turn.get(j if j is not None else -1, [])
            if o.cue.kind in (Kind.SELF, Kind.TEAM, Kind.THIRD)
        ]
        if _is_request(c):
            asked = _unpenalised(c)
            if answer is dialogue.Answer.DECLINE:
                dropped.add(id(c))
                for o in own:  # "I can't share that one, but I can get you the bridge letter"
                    o.score = _unpenalised(o) + ANSWERED
            elif j is not None and own:  # the answer says its own promise: it carries the task
                dropped.add(id(c))
                for o in own:
                    o.score = max(_unpenalised(o), asked) + ANSWERED
                    o.due_hint = c.sentence
                    settled.add(id(o))
                    if _weak_object(o):
                        _take_task(o, c, utterances[j])
            elif j is not None and answer is dialogue.Answer.ACCEPT:
                _accepted_by(c, j, utterances)
                c.score = asked + ANSWERED
            else:
                c.score += UNANSWERED_REQUEST
        elif c.cue.kind in (Kind.SELF, Kind.TEAM) and j is not None:
            asked = looks_like_question(c.sentence, c.clean)
            offer = dialogue.is_offer(c.sentence, asked)
            if offer and answer is dialogue.Answer.DECLINE:
                dropped.add(id(c))
            elif (offer and answer is dialogue.Answer.ACCEPT) or dialogue.appreciates(
                utterances[j].text
            ):
                c.score = _unpenalised(c) + ANSWERED
                c.due_hint = utterances[j].text
    return [c for c in cands if id(c) not in dropped]


def _unpenalised(c: _Candidate) -> float:
    """The score without the question penalty: an answer or a request is asked as a question
    by nature ("I can set that up, how's Tuesday?")."""
    asked = looks_like_question(c.sentence, c.clean) and c.cue.kind is not Kind.REQUEST
    return c.score + (QUESTION_PENALTY if asked else 0.0)


def _weak_object(c: _Candidate) -> bool:
    """ "I can set that up", "I'll do it": the task itself was said by someone else."""
    return len(_content_words(c) - {lemma(c.clean.words[c.cue.verb_word])}) < 2


def _take_task(answer: _Candidate, request: _Candidate, turn: Utterance) -> None:
    """Word the answer's promise with the request's task ("walk our admin through it")."""
    owner, subject, index = answer.owner, answer.subject, answer.index
    spoken = answer.evidence
    answer.cue, answer.clean, answer.sentence = request.cue, request.clean, request.sentence
    answer.me, answer.you, answer.us = request.me, THEY, request.us
    answer.owner, answer.subject, answer.index, answer.spoken_at = (
        owner,
        subject,
        request.index,
        index,
    )
    answer.answer = turn.text if spoken else turn.text
    answer.evidence = request.evidence


def _accepted_by(c: _Candidate, j: int, utterances: Sequence[Utterance]) -> None:
    """The request becomes the promise of the one who said yes, made in turn `j`."""
    who = utterances[j].speaker
    c.owner, c.subject, c.you, c.spoken_at = who, who or c.subject, THEY, j
    c.answer = utterances[j].text
    c.due_hint = utterances[j].text
    c.hedged = c.hedged or bool(_HEDGE_TAIL.search(utterances[j].text.lower()))


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
    after = " ".join(cleaned.words[cue.verb_word :])
    if re.search(
        r"\b(now|right now|real quick|first|again|in a second|in a sec|for a second)\b", after
    ):
        bonus -= 0.5  # an action on the call itself: "I'll take this out now", "send it again"
    if _ON_THE_CALL.search(after):
        bonus -= (
            0.8  # "put it on the whiteboard", "get the presentation up", "call this to a close"
        )
    return bonus


# Things of the meeting itself: doing something to them happens during the call, not after it.
_ON_THE_CALL = re.compile(
    r"\b(?:whiteboard|white board|screen(?! share)|slides?|powerpoint|projector|presentation up|"
    r"laptop|microphone|mic|pen|marker|to a close|this meeting|the agenda|my notes)\b"
)


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


def _restated(a: _Candidate, b: _Candidate) -> bool:
    """A later turn that says an earlier promise again (a recap, or the same task reworded)."""
    if a.owner is None or a.owner != b.owner or abs(a.index - b.index) > RESTATED_REACH:
        return False
    wa, wb = _content_words(a), _content_words(b)
    if not wa or not wb:
        return False
    shared = len(wa & wb) / len(wa | wb)
    recap = any(_RECAP.search(c.turn.lower()) for c in (a, b))
    return shared >= 0.5 or (recap and len(wa & wb) >= 1)


_ANAPHORIC = frozenset("it that this them those these".split())
_REPORT_BACK = re.compile(r"^(?:let \w+ know|get back to|follow up|circle back|report back)\b")


def _refers_back(later: _Candidate, earlier: _Candidate) -> bool:
    """ "I'll try to get that to you by Tuesday" after "I can put together a one-pager";
    "…and I'll let you know Monday" after "let me look at the logs" in the same turn."""
    if later.owner is None or later.owner != earlier.owner:
        return False
    if not 0 <= later.index - earlier.index <= MERGE_WINDOW:
        return False
    phrase_words = later.clean.words[later.cue.verb_word :]
    obj = phrase_words[1] if len(phrase_words) > 1 else ""
    after = later.index > earlier.index or (
        later.turn.find(later.sentence) > later.turn.find(earlier.sentence) >= 0
    )
    if obj in _ANAPHORIC and after:
        return True
    return later.index == earlier.index and bool(_REPORT_BACK.match(" ".join(phrase_words)))


def _same_task(a: _Candidate, b: _Candidate) -> bool:
    """Same owner, close together, and the same verb or mostly the same words."""
    if _restated(a, b) or _refers_back(a, b) or _refers_back(b, a):
        return True
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


def _borrow_dues(kept: list[_Candidate], others: list[_Candidate]) -> None:
    """A date said in a weaker follow-up clause of the same turn ("Let me check if it's in
    your plan. If it is, I'll turn it on this week.") dates the promise it refers back to."""
    for c in kept:
        if c.due is not None:
            continue
        later = next(
            (o for o in others if o.due and o.index == c.index and _refers_back(o, c)), None
        )
        if later is not None:
            c.due, c.due_phrase = later.due, later.due_phrase


def _merge(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep the strongest of several predictions that point at the same spoken task; it takes
    a due date only a restatement had, and stays tentative if any of them was hedged."""
    kept: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: (-c.score, c.index)):
        same = next((k for k in kept if _same_task(c, k)), None)
        if same is None:
            kept.append(c)
            continue
        same.hedged = same.hedged or c.hedged
        if same.due is None and c.due is not None:
            same.due, same.due_phrase = c.due, c.due_phrase
    return sorted(kept, key=lambda c: c.index)


def _side(owner: str | None, context: CallContext) -> Side:
    if owner and owner in context.our_speakers:
        return Side.OURS
    if owner and owner in context.customer_speakers:
        return Side.CUSTOMER
    return Side.UNKNOWN


def _due(
    c: _Candidate, utterances: Sequence[Utterance], context: CallContext
) -> tuple[dt.date | None, str | None]:
    """The due date from the promise itself, else where people put it: the answer or request
    of a cross-turn promise, the rest of the turn ("Give me till Friday."), or a short turn
    just after ("When can I have it?" — "Um, Wednesday?")."""
    turn = utterances[c.index].text
    rest = turn[turn.find(c.sentence) + len(c.sentence) :] if c.sentence in turn else ""
    places = [c.sentence, c.answer or "", c.due_hint, _next_sentences(rest)]
    asked = _ASKS_WHEN.search(utterances[c.spoken_at].text.lower())
    for j in range(c.spoken_at + 1, min(len(utterances), c.spoken_at + 3)):
        near = utterances[j]
        if asked and len(near.text.split()) <= NEAR_TURN_WORDS:
            if not find_cues(clean(near.text), False):  # "When can I have it?" — "Wednesday?"
                places.append(near.text)
                break
        asked = _ASKS_WHEN.search(near.text.lower())
    for text in places:
        if text:
            due, phrase = resolve_due(text, context.call_date)
            if due is None or re.search(r"minute|second|moment", phrase or ""):
                continue
            if _NOT_A_DEADLINE.search(text[: text.find(phrase or "") if phrase else 0]):
                continue
            return due, phrase
    return None, None


# "not until after the 15th", "every Thursday": a date that is no deadline.
_NOT_A_DEADLINE = re.compile(
    r"(?:\bafter|\bnot until|\bsince|\bevery)\b(?:\s+[\w'’-]+){0,5}\s*$", re.IGNORECASE
)
# A question about when, whose answer may carry a promise's due date.
_ASKS_WHEN = re.compile(
    r"\b(?:when(?:'s| is| can| will| would| do| does)?|what day|by when|how soon|what time|"
    r"which day|what date)\b[^?]*\?"
)


def _next_sentences(rest: str, n: int = 2) -> str:
    """The next sentences of the same turn, unless one of them makes a promise of its own."""
    out = []
    for start, end in sentences(rest)[:n]:
        text = rest[start:end]
        if find_cues(clean(text), False):
            break
        out.append(text)
    return " ".join(out)


def _condition(c: _Candidate) -> str | None:
    """ "once they have the key": the condition a promise was made under, reworded."""
    first = c.cue.condition_word
    if first is None or first >= c.cue.cue_word:
        return None
    words = phrase(c.clean, c.sentence, first, c.cue.cue_word, me=c.me, you=c.you, us=c.us)
    words = words.strip(" ,;:-")
    return (words[0].lower() + words[1:]) if words else None


def _to_commitment(
    c: _Candidate, utterances: Sequence[Utterance], context: CallContext
) -> Commitment:
    due, due_phrase = c.due, c.due_phrase
    text = compose(
        c.subject,
        c.clean,
        c.sentence,
        c.cue.verb_word,
        me=c.me,
        you=c.you,
        us=c.us,
        verb=c.cue.verb,
    )
    condition = _condition(c)
    if condition and condition.lower() not in text.lower():
        text = f"{text.rstrip('.…')}, {condition}."
    confidence = 1.0 / (1.0 + math.exp(-(c.score - THRESHOLD)))
    confidence = min(0.99, max(0.5, confidence))
    if c.hedged:
        confidence = min(confidence, HEDGED_CONFIDENCE)
    evidence = c.evidence
    if c.answer is not None and c.spoken_at != c.index:
        asker = utterances[c.index].speaker or "Someone"
        evidence = f"{asker}: {c.evidence} — {c.owner or 'Answer'}: {c.answer.strip()}"
    return Commitment(
        owner=c.owner,
        side=_side(c.owner, context),
        text=text[:300],
        due=due,
        due_phrase=due_phrase,
        category=category_of(c.sentence),
        evidence=evidence,
        confidence=round(confidence, 2),
        utterance_index=c.spoken_at,
    )
