"""Promises made across turns: a request and its answer, an offer and its acceptance.

People rarely say "I will" in reply to a request: "Can you get us the export?" — "Yep. End of
next week at the latest." The promise belongs to whoever accepted (not to whoever asked), and
its due date may be in either turn. A request that is refused ("Will you send it by Friday?" —
"I can't share that one") is no one's commitment, and neither is an offer that is turned down.
Answers are read from the first sentence of the next turn of another speaker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from bot.llm.rules.tokens import FILLERS, clean, sentences
from bot.transcripts.model import Utterance


class Answer(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    NONE = "none"


_ACCEPT = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|absolutely|of course|definitely|certainly|totally|will do|"
    r"can do|no problem|no worries|consider it done|done|you got it|got it|for sure|happy to|"
    r"i can do that|i can do it|i'll do that|i'll do it|i'll be there|i'm on it|on it|"
    r"leave it with me|let's do (?:that|it)|sounds good|sounds great|perfect|please|"
    r"that would be (?:great|amazing|awesome|helpful|really helpful|super helpful|useful|"
    r"really useful|perfect|fantastic|ideal)|that'd be (?:great|amazing|awesome|helpful|"
    r"super helpful|useful|perfect)|that would help|that helps|that works|works for me|love that|"
    r"great|amazing|awesome)\b"
)
_WEAK_ACCEPT = re.compile(r"^(?:okay|ok|alright|all right|right|mm-hmm|uh-huh|cool|fine)\b")
_DECLINE = re.compile(
    r"^(?:no|nope|not really|not today|not yet|not planning to|not right now|i can't|i cannot|"
    r"i won't|we can't|we cannot|we won't|unfortunately|i'm afraid|sorry,? (?:i|we) can't|"
    r"that i can't|i don't think|i'd rather not|i'd prefer not|not at the moment|maybe not|"
    r"probably not|no,)\b"
)
# Said by the one who offers: "What if I did…?", "Would it help if I sent…?", "… if that helps?"
OFFER = re.compile(
    r"\b(?:what if i|would it help if i|do you want me to|want me to|should i|shall i|i could|"
    r"i can|happy to|i'd be happy to|i would be happy to)\b"
)
OFFER_TAIL = re.compile(
    r"\b(?:if that helps|if it helps|if you want|if you'd like|if that's easier)\b"
)


def _words(sentence: str) -> str:
    return " ".join(w for w in clean(sentence).words if w not in FILLERS)


def classify(text: str) -> Answer:
    """Accept, decline or neither, from how an answer starts."""
    spans = sentences(text)
    if not spans:
        return Answer.NONE
    first = _words(text[spans[0][0] : spans[0][1]])
    if _DECLINE.match(first):
        return Answer.DECLINE
    if _ACCEPT.match(first):
        return Answer.ACCEPT
    if _WEAK_ACCEPT.match(first) and len(first.split()) <= 3:
        return Answer.ACCEPT
    return Answer.NONE


def answer_turn(utterances: Sequence[Utterance], i: int, reach: int = 2) -> int | None:
    """Index of the next turn by someone other than the speaker of turn `i`."""
    speaker = utterances[i].speaker
    for j in range(i + 1, min(len(utterances), i + 1 + reach)):
        if utterances[j].speaker != speaker:
            return j
    return None


def is_offer(sentence: str, is_question: bool) -> bool:
    """An offer to do something, waiting for the other side's yes."""
    low = _words(sentence)
    return bool(OFFER_TAIL.search(low)) or (is_question and bool(OFFER.search(low)))


_APPRECIATES = re.compile(
    r"\b(?:that would be (?:great|amazing|awesome|helpful|really helpful|super helpful|useful|"
    r"really useful|perfect|fantastic)|that'd be (?:great|amazing|awesome|helpful|super helpful|"
    r"useful|perfect)|that would help|that helps|would help a lot|oh that'd|please do|yes please)\b"
)


def appreciates(text: str) -> bool:
    """ "That'd be super helpful" / "Please do": the other side takes up what was offered."""
    spans = sentences(text)
    return bool(spans) and bool(_APPRECIATES.search(_words(text[spans[0][0] : spans[0][1]])))
