"""Turn a spoken promise into a one-line, third-person statement and give it a category."""

from __future__ import annotations

import re

from bot.llm.base import Category
from bot.llm.rules.tokens import CleanText

MAX_TEXT = 300
MAX_WORDS = 30

_CATEGORY_WORDS: list[tuple[Category, re.Pattern[str]]] = [
    (
        Category.INTEGRATION,
        re.compile(
            r"\b(sso|saml|scim|okta|api|apis|integrat\w*|configur\w*|migrat\w*|"
            r"(?:set ?up|setting up)"
            r"(?! (?:an? |the )?(?:\w+ )?(?:call|meeting|session|sync|time|chat))|"
            r"webhooks?|sandbox|install\w*|provision\w*|connector|data import|import)\b"
        ),
    ),
    (
        Category.RENEWAL,
        re.compile(
            r"\b(renew\w*|contracts?|pricing|price|procurement|purchase order|quotes?|invoices?|"
            r"order form|msa|legal|budget|seats|licen[cs]es?|signature|sign off|sign-off)\b"
        ),
    ),
    (
        Category.RISK,
        re.compile(
            r"\b(concerns?|risks?|escalat\w*|churn\w*|issues?|bugs?|outages?|incidents?|blockers?|"
            r"(?<!no )problems?|"
            r"complain\w*|unhappy|cancel\w*)\b"
        ),
    ),
    (
        Category.MILESTONE,
        re.compile(
            r"\b(go-live|go live|launch\w*|roll ?out|rolling out|training|adoption|kick-?off|"
            r"onboard\w*|pilot|milestones?|prototype|deadline|qbr)\b"
        ),
    ),
    (
        Category.FOLLOW_UP,
        re.compile(
            r"\b(send|sending|share|sharing|follow(?:ing)? up|follow-up|e-?mail\w*|deck|docs?|"
            r"documents?|documentation|guide|loop(?:ing)? in|schedul\w*|intro\w*|recap|notes|"
            r"minutes|summary|forward\w*|invite|report|get back|"
            r"(?:set ?up|book) (?:an? |the )?(?:\w+ )?(?:call|meeting|session|sync))\b"
        ),
    ),
]
_PO = re.compile(r"\bPOs?\b")
# Discourse tails that are not part of the task: "… by Friday, no problem".
_SPOKEN_FILLERS = frozenset(
    {
        ("you", "know"),
        ("i", "mean"),
        ("i", "guess"),
        ("i", "think"),
        ("let's", "say"),
        ("sort", "of"),
        ("kind", "of"),
        ("do", "is"),
    }
)
_TAIL = re.compile(
    r"(?:\s+(?:no problem|no worries|thanks|thank you|okay|ok|alright|right|yeah|sounds? good|"
    r"if that works|promise|for sure|i think|i guess|hopefully|as well|though|then|anyway))+$",
    re.IGNORECASE,
)

THEY = "they"  # a party referred to by third-person pronouns
_REFLEXIVE = frozenset({"myself", "yourself", "ourselves", "yourselves"})

_FIRST = {
    "i": 0,
    "me": 1,
    "my": 2,
    "mine": 2,
    "myself": 1,
    "i'm": 3,
    "i've": 4,
    "i'd": 5,
    "i'll": 6,
}
_SECOND = {
    "you": 1,
    "your": 2,
    "yours": 2,
    "yourself": 1,
    "you're": 3,
    "you've": 4,
    "you'd": 5,
    "you'll": 6,
}
_PLURAL = {
    "we": 0,
    "us": 1,
    "our": 2,
    "ours": 2,
    "ourselves": 1,
    "we're": 3,
    "we've": 4,
    "we'd": 5,
    "we'll": 6,
}
_THEY_FORMS = ("they", "them", "their", "they're", "they've", "they'd", "they'll")


def _as(party: str, form: int) -> str:
    """Word for `party` in grammatical form: 0 subject, 1 object, 2 possessive, 3-6 contractions."""
    if party == THEY:
        return _THEY_FORMS[form]
    return (
        party,
        party,
        f"{party}'s",
        f"{party} is",
        f"{party} has",
        f"{party} would",
        f"{party} will",
    )[form]


def category_of(sentence: str) -> Category:
    """The first category whose keywords the sentence mentions (integration before follow-up)."""
    low = sentence.lower()
    for category, pattern in _CATEGORY_WORDS:
        if pattern.search(low) or (category is Category.RENEWAL and _PO.search(sentence)):
            return category
    return Category.OTHER


def phrase(
    clean: CleanText,
    original: str,
    first: int,
    stop: int,
    *,
    me: str | None = THEY,
    you: str | None = None,
    us: str | None = THEY,
) -> str:
    """Words first..stop-1 as spoken (case kept, fillers dropped), with "I/me", "you" and
    "we/us" rewritten as the parties they stand for (a name or THEY; None: as spoken)."""
    words: list[str] = []
    skip: set[int] = set()
    for k in range(first, min(stop, len(clean.words)) - 1):
        pair = (clean.words[k], clean.words[k + 1])
        if pair in _SPOKEN_FILLERS and not (
            pair == ("you", "know") and k and clean.words[k - 1] == "let"
        ):
            skip.update((k, k + 1))
    for k in range(first, min(stop, len(clean.words))):
        if k in skip:
            continue
        start, end = clean.spans[k]
        word = original[start:end].replace("’", "'")
        low = clean.words[k]
        if low in _REFLEXIVE and k > first:
            continue  # "I'll fix it myself": the owner is already the subject
        for table, party in ((_FIRST, me), (_SECOND, you), (_PLURAL, us)):
            if low in table and party is not None:
                word = _as(party, table[low])
        words.append(word)
    return " ".join(words)


def compose(
    subject: str,
    clean: CleanText,
    original: str,
    verb_word: int,
    *,
    me: str | None = THEY,
    you: str | None = None,
    us: str | None = THEY,
    verb: str | None = None,
) -> str:
    """'<subject> will <verb phrase>.' from the original words (see `phrase`); `verb` replaces
    the spoken verb phrase's lead ("you'll have it tomorrow" → "will deliver it tomorrow").

    `original` is the text the CleanText spans point into.
    """
    spoken = phrase(clean, original, verb_word, verb_word + MAX_WORDS, me=me, you=you, us=us)
    said = _TAIL.sub("", spoken).strip(" ,;:-")
    if verb and said:
        said = f"{verb} {said}"
    if not said:
        said = "follow up"
    text = f"{subject} will {said}"
    text = text[0].upper() + text[1:]
    if len(text) > MAX_TEXT - 1:
        text = text[: MAX_TEXT - 2].rsplit(" ", 1)[0] + "…"
    return text + ("" if text.endswith("…") else ".")
