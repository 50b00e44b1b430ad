"""Turn a spoken promise into a one-line, third-person statement and give it a category."""

from __future__ import annotations

import re

from bot.llm.base import Category
from bot.llm.rules.tokens import CleanText

MAX_TEXT = 300
MAX_WORDS = 30

_CATEGORY_WORDS: list[tuple[Category, re.Pattern[str]]] = [
    (Category.INTEGRATION, re.compile(
        r"\b(sso|saml|scim|okta|api|apis|integrat\w*|set ?up|setting up|configur\w*|migrat\w*|"
        r"webhooks?|sandbox|install\w*|provision\w*|connector|data import|import)\b")),
    (Category.RENEWAL, re.compile(
        r"\b(renew\w*|contracts?|pricing|price|procurement|purchase order|quotes?|invoices?|"
        r"order form|msa|legal|budget|seats|licen[cs]es?|signature|sign off|sign-off)\b")),
    (Category.RISK, re.compile(
        r"\b(concerns?|risks?|escalat\w*|churn\w*|issues?|bugs?|outages?|incidents?|blockers?|"
        r"complain\w*|unhappy|problems?|cancel\w*)\b")),
    (Category.MILESTONE, re.compile(
        r"\b(go-live|go live|launch\w*|roll ?out|rolling out|training|adoption|kick-?off|"
        r"onboard\w*|pilot|milestones?|prototype|deadline|qbr)\b")),
    (Category.FOLLOW_UP, re.compile(
        r"\b(send|sending|share|sharing|follow(?:ing)? up|follow-up|e-?mail\w*|deck|docs?|"
        r"documents?|documentation|guide|loop(?:ing)? in|schedul\w*|intro\w*|recap|notes|"
        r"minutes|summary|forward\w*|invite|report|get back)\b")),
]
_PO = re.compile(r"\bPOs?\b")

_FIRST_TO_THIRD = {"i": "they", "me": "them", "my": "their", "mine": "theirs",
                   "myself": "themselves", "i'm": "they're", "i've": "they've", "i'd": "they'd",
                   "i'll": "they'll"}
_SECOND = {"you", "your", "yours", "yourself", "you're", "you've", "you'll", "you'd"}


def category_of(sentence: str) -> Category:
    """The first category whose keywords the sentence mentions (integration before follow-up)."""
    low = sentence.lower()
    for category, pattern in _CATEGORY_WORDS:
        if pattern.search(low) or (category is Category.RENEWAL and _PO.search(sentence)):
            return category
    return Category.OTHER


def compose(
    subject: str, clean: CleanText, original: str, verb_word: int, second_person: str | None
) -> str:
    """'<subject> will <verb phrase>.' from the original words (case kept, fillers dropped).

    `original` is the text the CleanText spans point into. First-person words become third
    person; "you" becomes `second_person` (who the promise is made to) when known.
    """
    words: list[str] = []
    for k in range(verb_word, min(len(clean.words), verb_word + MAX_WORDS)):
        start, end = clean.spans[k]
        word = original[start:end].replace("’", "'")
        low = clean.words[k]
        if low in _FIRST_TO_THIRD:
            word = _FIRST_TO_THIRD[low]
        elif low in _SECOND and second_person:
            word = _second(low, second_person)
        words.append(word)
    phrase = " ".join(words).strip(" ,;:-")
    if not phrase:
        phrase = "follow up"
    text = f"{subject} will {phrase}"
    text = text[0].upper() + text[1:]
    if len(text) > MAX_TEXT - 1:
        text = text[: MAX_TEXT - 2].rsplit(" ", 1)[0] + "…"
    return text + ("" if text.endswith("…") else ".")


def _second(low: str, target: str) -> str:
    if low in {"your", "yours"}:
        return f"{target}'s"
    if low in {"you", "yourself"}:
        return target
    return {"you're": f"{target} is", "you've": f"{target} has", "you'll": f"{target} will",
            "you'd": f"{target} would"}[low]
