"""How people actually promise on calls: across turns, in short forms, under conditions and
with reservations — and what is not a promise (questions, refusals, recaps of one promise)."""

from __future__ import annotations

import datetime as dt

from bot.llm.base import CallContext, Commitment, Side
from bot.llm.rules import RulesEngine
from bot.transcripts.model import Utterance

CSM, SE, CUSTOMER, ADMIN = "Priya Shah", "Tom Becker", "Dana Lee", "Marco Ruiz"
CONTEXT = CallContext(
    call_date=dt.date(2025, 11, 5),  # a Wednesday
    our_speakers=[CSM, SE],
    customer_speakers=[CUSTOMER, ADMIN],
    account_name="Acme",
)


def extract(*turns: tuple[str, str]) -> list[Commitment]:
    utterances = [Utterance(s, t, float(i)) for i, (s, t) in enumerate(turns)]
    return RulesEngine().extract(utterances, CONTEXT).commitments


def only(found: list[Commitment]) -> Commitment:
    assert len(found) == 1, [c.text for c in found]
    return found[0]


def test_request_accepted_in_the_next_turn_belongs_to_who_accepted() -> None:
    c = only(
        extract(
            (CUSTOMER, "Can you get us the export for the board?"),
            (CSM, "Yep. End of next week at the latest."),
        )
    )
    assert c.owner == CSM and c.side is Side.OURS
    assert c.due == dt.date(2025, 11, 14)  # the due date came from the answer
    assert "export" in c.text and c.utterance_index == 1
    assert "Dana Lee: Can you get us the export" in c.evidence and "Yep" in c.evidence


def test_declined_request_is_nobodys_commitment() -> None:
    found = extract(
        (CUSTOMER, "Will you send the full uptime report by Friday?"),
        (CSM, "No, sorry, that one's internal only."),
    )
    assert found == []


def test_counter_offer_after_a_refusal_is_kept() -> None:
    c = only(
        extract(
            (CUSTOMER, "Will you send the full uptime report by Friday?"),
            (CSM, "I can't share that one, but I can get you the SOC 2 bridge letter."),
        )
    )
    assert c.owner == CSM and "bridge letter" in c.text


def test_short_forms_of_promising() -> None:
    found = extract(
        (CUSTOMER, "When will the fix land?"),
        (SE, "You'll have it tomorrow."),
        (ADMIN, "I need something in writing for my boss."),
        (CSM, "Absolutely. Consider it done. I'll have the incident write-up to you by Friday."),
    )
    assert [(c.owner, c.due) for c in found] == [
        (SE, dt.date(2025, 11, 6)),
        (CSM, dt.date(2025, 11, 7)),
    ]
    assert found[0].text.startswith("Tom Becker will deliver it")


def test_offer_taken_up_by_the_other_side() -> None:
    c = only(
        extract(
            (CSM, "I can send you the list of open tickets, if that helps."),
            (CUSTOMER, "Oh that would be super helpful, thanks."),
        )
    )
    assert c.owner == CSM


def test_offer_turned_down_is_not_a_commitment() -> None:
    assert (
        extract(
            (CSM, "Would it help if I joined the board meeting? I could walk them through it."),
            (CUSTOMER, "I don't think that's needed, but thanks."),
        )
        == []
    )


def test_conditional_promise_keeps_its_condition() -> None:
    c = only(extract((ADMIN, "Once I have the API key, I'll connect the Salesforce sandbox.")))
    assert c.owner == ADMIN
    assert c.text.endswith("once they have the API key.")


def test_hypothetical_consequence_is_not_a_promise() -> None:
    said = "If this happens again, we're going to have to look at other options."
    assert extract((CUSTOMER, said)) == []


def test_hedged_promise_is_kept_but_tentative() -> None:
    c = only(extract((CSM, "I'll try to get the one-pager to you by Tuesday, but no promises.")))
    assert c.confidence < 0.5 and c.due == dt.date(2025, 11, 11)


def test_due_date_said_in_the_next_turn() -> None:
    c = only(
        extract(
            (SE, "I'll put together a co-termed quote for thirty seats."),
            (ADMIN, "When can I have it?"),
            (SE, "Um, Wednesday?"),
        )
    )
    assert c.due == dt.date(2025, 11, 12)


def test_a_question_to_someone_is_not_their_commitment_until_they_agree() -> None:
    found = extract(
        (CSM, "Dana, you'll present it to the managers, right?"),
        (CUSTOMER, "Yeah, I can present it."),
    )
    assert [c.owner for c in found] == [CUSTOMER]


def test_recap_of_the_same_promise_is_one_commitment() -> None:
    found = extract(
        (CSM, "I'll send you the updated SSO setup guide for Okta by Friday."),
        (CUSTOMER, "Great."),
        (ADMIN, "We will configure SCIM once the guide arrives."),
        (CSM, "So to recap, I'll send the SSO guide Friday and Marco does SCIM."),
    )
    assert sum("SSO" in c.text for c in found) == 1


def test_decoys_stay_out() -> None:
    assert (
        extract(
            (CUSTOMER, "We should probably talk about seats at some point."),
            (CSM, "I'd love to get our head of product on a call at some point."),
            (CUSTOMER, "We did a true-up last year and sent the numbers then."),
            (CSM, "Let me share my screen real quick."),
        )
        == []
    )
