import datetime as dt

from bot.llm.base import Commitment
from bot.llm.merge import is_duplicate, merge_commitments


def make(text: str, evidence: str, index: int | None, owner: str | None = "Dana", **kw):
    return Commitment(owner=owner, text=text, evidence=evidence, utterance_index=index, **kw)


def test_same_evidence_from_two_chunks_is_one() -> None:
    a = make("Dana sends the guide", "I'll send the guide", 4, confidence=0.6)
    b = make("Dana will send the SSO guide", "I'll send the guide.", 4, confidence=0.8)
    merged = merge_commitments([a, b])
    assert merged == [b]


def test_same_utterance_same_owner_is_one_and_keeps_a_known_due_date() -> None:
    a = make("Dana sends the guide", "send the guide", 4, confidence=0.9)
    b = make("Guide goes out Friday", "by Friday", 4, confidence=0.5, due=dt.date(2025, 3, 7))
    [only] = merge_commitments([a, b])
    assert only.text == "Dana sends the guide"
    assert only.due == dt.date(2025, 3, 7)


def test_near_identical_text_is_one() -> None:
    a = make("Dana sends the SSO setup guide.", "guide by Friday", 4)
    b = make("Dana sends the SSO set-up guide", "the setup guide", 9)
    assert is_duplicate(a, b)
    assert len(merge_commitments([a, b])) == 1


def test_different_promises_stay_apart_and_sorted() -> None:
    a = make("Sam finishes the Okta integration", "we will finish the Okta", 7, owner="Sam")
    b = make("Dana sends the SSO guide", "I'll send you the SSO", 2)
    c = make("Someone books a call", "let's book a call", None, owner=None)
    d = make("Sam's team tests SSO", "we will finish the Okta integration", 7, owner="Sam")
    merged = merge_commitments([a, c, b])
    assert [m.utterance_index for m in merged] == [2, 7, None]
    assert not is_duplicate(b, make("Dana sends the invoice", "send the invoice", 2, owner="Sam"))
    assert is_duplicate(a, d)  # same quote → same promise, whatever the wording
