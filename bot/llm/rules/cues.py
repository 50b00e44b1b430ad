"""Find the language of promising in one sentence and weigh how strong it is.

A cue is a subject plus a modal of future or obligation ("I'll", "you're gonna", "can you",
"Priya will"), followed by a verb phrase. The verb decides whether it is a task ("send the
guide") or talk about the call, an opinion or a requirement ("be honest", "see", "need a
battery"). The words before the cue decide whether it is a condition, a report or a hedge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.llm.rules.lexicon import (
    CONDITIONS,
    EMBEDDING,
    GROUP_SUBJECTS,
    HEDGES,
    HYPOTHETICAL,
    IDIOMS,
    META_EXCEPTIONS,
    META_PHRASES,
    META_VERBS,
    REPORTED,
    TASK_VERBS,
)
from bot.llm.rules.tokens import CleanText


class Kind(StrEnum):
    SELF = "self"  # the speaker promises ("I'll send …")
    TEAM = "team"  # the speaker promises for their side ("we'll send …")
    ASSIGN = "assign"  # the speaker hands a task to someone ("you're gonna work on …")
    REQUEST = "request"  # the speaker asks someone ("can you loop in …")
    GROUP = "group"  # a task for several people ("you two have to …")
    THIRD = "third"  # a named person will do it ("Priya will …")


@dataclass(frozen=True, slots=True)
class Cue:
    kind: Kind
    strength: float  # subject+modal strength plus verb weight and sentence modifiers
    cue_word: int  # index (in CleanText.words) of the first word of the cue
    verb_word: int  # index of the first word of the verb phrase
    subject: str | None = None  # the named subject of a THIRD cue, as written
    hedged: bool = False  # "I'll try to…", "probably", "no promises": kept, shown as tentative
    condition_word: int | None = None  # "once"/"if" that opens the condition before the cue
    verb: str | None = None  # a verb to say instead of the spoken one ("you'll have it" → deliver)
    weight: float = 1.0  # how much the verb alone says it is a task (TASK_VERBS)


_MODAL_WILL = (
    r"(?:will|'ll|shall|is gonna|is going to|are gonna|are going to|'re gonna|'re going to|"
    r"'m gonna|'m going to|am gonna|am going to|gonna)"
)
# Present-tense verbs that hand out work in "and you work on …", "so you do the research".
_HANDOUT_VERBS = (
    "work",
    "do",
    "handle",
    "take care",
    "research",
    "focus",
    "look into",
    "cover",
    "own",
    "draft",
    "prepare",
    "send",
    "check",
    "write",
)
_DELIVERY = re.compile(
    r"(?:^| )(you(?:'ll| will)(?: definitely| certainly| also)? (?:have|get))"
    r"(?= (?:it|that|them|this|those|these|the|a|an|my|our)\b)"
)
# "I would like to receive the components concept": asking for a deliverable, not an action.
_WANTS = re.compile(
    r"(?:^| )((?:i'd|i would|we'd|we would|i want|we want) (?:like |love )?to "
    r"(?:see|receive|get|have))(?= (?:the|a|an|your|some|that|this)\b)"
)
_PATTERNS: list[tuple[Kind, float, str]] = [
    (
        Kind.REQUEST,
        2.0,
        r"(?:i'd|i would|i|we'd|we would|we|i'll|we'll) (?:like|want|need|love) "
        r"(?:for )?you(?: guys| two| all| both)? to",
    ),
    (Kind.REQUEST, 1.6, r"(?:can|could|would|will) you(?: please)?(?: maybe| just)?"),
    (Kind.REQUEST, 1.3, r"if you (?:can|could|would)(?: please)?"),
    (Kind.REQUEST, 1.3, r"(?:would|do) you mind"),
    (
        Kind.SELF,
        2.0,
        r"(?:i'll|i will|i shall|i'm gonna|i'm going to|i am going to|i am gonna|"
        r"i'm gon na)(?: definitely| certainly| also| just| then)?",
    ),
    (Kind.SELF, 1.6, r"let me"),
    (
        Kind.SELF,
        1.3,
        r"(?:i need to|i have to|i've got to|i got to|i gotta|i must|"
        r"i'm supposed to|i am supposed to|i'm meant to)",
    ),
    (Kind.SELF, 1.1, r"(?:i'm happy to|i'd be happy to|i am happy to|i can|i'm able to)"),
    (
        Kind.TEAM,
        1.3,
        r"(?:we'll|we will|we shall|we're gonna|we're going to|we are going to|"
        r"we are gonna)",
    ),
    (Kind.TEAM, 0.7, r"(?:we need to|we have to|we've got to|we gotta|we must)"),
    (Kind.TEAM, 0.3, r"(?:we can|we could|we should|let's|let us)"),
    (
        Kind.ASSIGN,
        1.7,
        r"(?:you'll|you will|you're gonna|you're going to|you are going to|"
        r"you are gonna|you gonna)",
    ),
    (
        Kind.ASSIGN,
        1.4,
        r"(?:you need to|you have to|you've got to|you must|you're supposed to|"
        r"you are supposed to)",
    ),
    (Kind.ASSIGN, 0.5, r"(?:you should|you could|you can)"),  # often the generic "you"
    (Kind.ASSIGN, 0.9, r"(?:[a-z]+ )?you(?= (?:" + "|".join(_HANDOUT_VERBS) + r") )"),
    (
        Kind.GROUP,
        1.4,
        r"(?:"
        + "|".join(GROUP_SUBJECTS)
        + r") (?:"
        + _MODAL_WILL[3:-1]
        + r"|have to|need to|should|can)",
    ),
]
_COMPILED = [(k, s, re.compile(r"(?:^| )(" + p + r")(?= |$)")) for k, s, p in _PATTERNS]
_THIRD = re.compile(
    r"(?:^| )(?P<subj>[\w-]+(?: [\w-]+){0,3}?)(?P<modal>'ll| will| is gonna| is going to| has to|"
    r" needs to| should| is supposed to| can| could)(?= |$)"
)
_SKIP = frozenset(
    "just also probably definitely certainly actually really then now still first quickly "
    "personally directly gladly happily absolutely totally please maybe specifically hopefully "
    "perhaps all both each".split()
)
_HEDGE_ADVERBS = frozenset({"probably", "maybe", "hopefully", "perhaps"})
_TRYING = (("try", "to"), ("try", "and"), ("attempt", "to"))
_LEADING_SKIPS = (
    ("go", "ahead", "and"),
    ("try", "to"),
    ("try", "and"),
    ("attempt", "to"),
    ("be", "able", "to"),
    ("have", "to"),
    ("need", "to"),
    ("make", "sure", "to"),
    ("want", "to"),
    ("you", "know"),
    ("i", "mean"),
    ("i", "guess"),
    ("i", "think"),
    ("like",),
)
_NEGATION = frozenset({"not", "never", "no"})
_QUESTION_START = frozenset(
    "do does did are is was were will would should shall can could have has what when where who "
    "how why which".split()
)


def lemma(word: str) -> str:
    """Base form of an -ing/-s verb when it is one we know ("getting" -> "get")."""
    if word in TASK_VERBS or word in META_VERBS:
        return word
    if word.endswith("ing") and len(word) > 5:
        stem = word[:-3]
        for cand in (stem, stem + "e", stem[:-1]):
            if cand in TASK_VERBS or cand in META_VERBS:
                return cand
    if word.endswith("s") and word[:-1] in TASK_VERBS:
        return word[:-1]
    if word.startswith("re") and len(word) > 5 and word[2:].lstrip("-") in TASK_VERBS:
        return word[2:].lstrip("-")  # resend, reschedule, rework: the same task again
    return word


UNKNOWN_VERB = 0.15


@dataclass(frozen=True, slots=True)
class Verb:
    weight: float
    index: int  # where the verb phrase begins
    hedged: bool = False  # "try to", "probably": a promise said with reservations
    obliged: bool = False  # "we'll have to look at…": a consequence, not an undertaking


def verb_weight(words: tuple[str, ...], start: int) -> Verb | None:
    """Weight of the verb phrase at `start` and where it begins; None for non-tasks."""
    i = start
    hedged = obliged = False
    while i < len(words):
        if words[i] in _SKIP:
            hedged = hedged or words[i] in _HEDGE_ADVERBS
            i += 1
            continue
        skipped = next((s for s in _LEADING_SKIPS if tuple(words[i : i + len(s)]) == s), ())
        if not skipped:
            break
        hedged = hedged or skipped in _TRYING
        obliged = obliged or skipped in (("have", "to"), ("need", "to"))
        i += len(skipped)
    found = _verb_at(words, i)
    if found is None:
        return None
    return Verb(found[0], found[1], hedged, obliged)


def _verb_at(words: tuple[str, ...], i: int) -> tuple[float, int] | None:
    hedge = 0.0
    if i >= len(words) or words[i] in _NEGATION:
        return None
    rest = " ".join(words[i:])
    verb = words[i]
    for idiom, weight in IDIOMS.items():
        if rest == idiom or rest.startswith(idiom + " "):
            return weight, i
    for follow in META_EXCEPTIONS.get(verb, ()):
        if rest.startswith(f"{verb} {follow}"):
            nxt = lemma(words[i + 1]) if verb == "be" and i + 1 < len(words) else ""
            return max(TASK_VERBS.get(nxt, 0.8), 0.6) + hedge, i
    if any(rest == p or rest.startswith(p + " ") for p in META_PHRASES):
        return None
    base = lemma(verb)
    if base in ("have", "get") and _causative(words[i + 1 : i + 6]):
        return 0.9 + hedge, i
    if base in META_VERBS:
        return None
    return TASK_VERBS.get(base, UNKNOWN_VERB) + hedge, i


def _causative(after: tuple[str, ...]) -> bool:
    """ "have procurement sign off", "get the contract signed", "have it ready"."""
    done = {
        "ready",
        "done",
        "signed",
        "finished",
        "sent",
        "over",
        "approved",
        "set",
        "back",
        "finalized",
        "finalised",
        "completed",
        "fixed",
        "in",
    }
    if any(
        a == "to" and b in ("you", "them", "him", "her")
        for a, b in zip(after, after[1:], strict=False)
    ):
        return True  # "I'll have the write-up to you by Thursday"
    return any(
        w in done or (lemma(w) in TASK_VERBS and TASK_VERBS[lemma(w)] >= 0.8) for w in after[1:]
    )


def _preceding(clean: CleanText, index: int, n: int = 6) -> str:
    return " ".join(clean.words[max(0, index - n) : index])


@dataclass(frozen=True, slots=True)
class Modifiers:
    delta: float
    hedged: bool = False
    condition_word: int | None = None


def _modifiers(
    clean: CleanText, cue_word: int, kind: Kind, is_question: bool, verb: Verb
) -> Modifiers | None:
    """Sentence-level adjustments; None when the cue is reported, embedded or hypothetical.

    A promise under a real condition ("Once I have the key, I'll connect…", "If it is, I'll
    turn it on") is kept with its condition; a supposition ("say we…", "assuming…"), a
    consequence ("if this happens again, we're going to have to…") is not.
    """
    before = clean.words[max(0, cue_word - 4) : cue_word]
    condition = None
    if kind is not Kind.REQUEST:
        opened = [k for k, w in enumerate(clean.words[:cue_word]) if w in CONDITIONS]
        if opened:
            word = clean.words[opened[0]]
            if word in HYPOTHETICAL or verb.obliged or kind in (Kind.ASSIGN, Kind.GROUP):
                return None
            condition = opened[0]
    if before and before[-1] in REPORTED:
        return None
    if kind is not Kind.REQUEST and before and before[-1] in EMBEDDING:
        return None  # "all you have to do is", "how we're gonna get", "when you build it"
    delta = -0.3 if condition is not None else 0.0
    prefix = " " + _preceding(clean, cue_word) + " "
    hedged = verb.hedged
    if any(f" {h} " in prefix for h in HEDGES):
        delta -= 0.7
        hedged = True
    if is_question and kind is not Kind.REQUEST:
        delta -= 2.0
    return Modifiers(delta, hedged, condition)


def find_cues(clean: CleanText, is_question: bool) -> list[Cue]:
    """Every promise cue in a sentence, weighed; the caller keeps the strongest."""
    cues: list[Cue] = []
    taken: set[int] = set()
    for m in _DELIVERY.finditer(clean.text):  # "you'll have it tomorrow": the speaker delivers
        first = clean.word_at(m.start(1))
        last = clean.word_at(m.end(1) - 1)
        taken.add(first)
        mod = _modifiers(clean, first, Kind.SELF, is_question, Verb(1.0, last + 1))
        if mod is not None and not is_question:
            cues.append(
                Cue(
                    Kind.SELF,
                    3.0 + mod.delta,
                    first,
                    last + 1,
                    None,
                    mod.hedged,
                    mod.condition_word,
                    "deliver",
                )
            )
    for m in _WANTS.finditer(clean.text):
        first = clean.word_at(m.start(1))
        last = clean.word_at(m.end(1) - 1)
        taken.add(first)
        mod = _modifiers(clean, first, Kind.REQUEST, is_question, Verb(1.0, last + 1))
        if mod is not None:
            cues.append(
                Cue(
                    Kind.REQUEST,
                    2.0 + mod.delta,
                    first,
                    last + 1,
                    None,
                    mod.hedged,
                    mod.condition_word,
                    "deliver",
                )
            )
    for kind, strength, pattern in _COMPILED:
        for m in pattern.finditer(clean.text):
            first = clean.word_at(m.start(1))
            if first in taken:
                continue
            last = clean.word_at(m.end(1) - 1)
            verb = verb_weight(clean.words, last + 1)
            if verb is None:
                taken.add(first)
                continue
            mod = _modifiers(clean, first, kind, is_question, verb)
            if mod is None:
                taken.add(first)
                continue
            taken.add(first)
            cues.append(
                Cue(
                    kind,
                    strength + verb.weight + mod.delta,
                    first,
                    verb.index,
                    None,
                    mod.hedged,
                    mod.condition_word,
                    weight=verb.weight,
                )
            )
    cues.extend(_third_person(clean, is_question, taken))
    return cues


def _third_person(clean: CleanText, is_question: bool, taken: set[int]) -> list[Cue]:
    """Named-subject cues; the subject is checked against speakers by the caller."""
    out = []
    for m in _THIRD.finditer(clean.text):
        subj_first = clean.word_at(m.start("subj"))
        modal_last = clean.word_at(m.end("modal") - 1)
        if subj_first in taken or modal_last + 1 >= len(clean.words):
            continue
        verb = verb_weight(clean.words, modal_last + 1)
        if verb is None:
            continue
        mod = _modifiers(clean, subj_first, Kind.THIRD, is_question, verb)
        if mod is None:
            continue
        strong = {"'ll", "will", "is gonna", "is going to", "has to", "needs to", "is supposed to"}
        strength = 1.5 if m.group("modal").strip() in strong else 0.8
        out.append(
            Cue(
                Kind.THIRD,
                strength + verb.weight + mod.delta,
                subj_first,
                verb.index,
                m.group("subj"),
                mod.hedged,
                mod.condition_word,
                weight=verb.weight,
            )
        )
    return out


def looks_like_question(sentence: str, clean: CleanText) -> bool:
    return sentence.rstrip().endswith("?") or (
        bool(clean.words) and clean.words[0] in _QUESTION_START and "?" in sentence
    )
