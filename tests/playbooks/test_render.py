import datetime as dt
from types import SimpleNamespace

from bot.playbooks.render import (
    find_placeholders,
    render_message,
    truncate_at_sentence,
    unfilled_placeholders,
)

FACTS = {
    "account": {
        "name": "Acme Corp",
        "arr": 120000,
        "renewal_date": dt.date(2025, 3, 12),
        "tier": "Enterprise",
    },
    "csm.name": "Dana Reyes",
    "recipient": SimpleNamespace(name="Tom Ito", first_name="Tom"),
    "days_to_renewal": 84,
    "open_commitments": ["Send the SSO guide", "Fix the export bug"],
    "overdue_commitments": [],
}


def test_find_placeholders_ignores_escaped_braces() -> None:
    text = "Hi {recipient.first_name}, {{literal}} {account.name} { context }"
    assert find_placeholders(text) == {"recipient.first_name", "account.name", "context"}


def test_render_fills_nested_flat_and_attribute_facts() -> None:
    result = render_message(
        "Hi {recipient.first_name}, {csm.name} here about {account.name} "
        "({account.tier}, {account.arr} ARR, renews {account.renewal_date}, "
        "{days_to_renewal} days). {{ok}}",
        FACTS,
    )
    assert result.text == (
        "Hi Tom, Dana Reyes here about Acme Corp (Enterprise, $120,000 ARR, renews "
        "March 12, 2025, 84 days). {ok}"
    )
    assert result.missing == []


def test_render_lists_as_bullets_and_empty_lists_gracefully() -> None:
    result = render_message("Open:\n{open_commitments}\nOverdue: {overdue_commitments}", FACTS)
    assert result.text == "Open:\n• Send the SSO guide\n• Fix the export bug\nOverdue: none overdue"
    assert result.missing == []


def test_render_reports_missing_facts_and_leaves_no_placeholder() -> None:
    result = render_message(
        "Hi {recipient.first_name}, renewal {account.renewal_date}; {context}; "
        "{account.renewal_date} again; {made.up_fact}",
        {"account": {"name": "Acme"}, "recipient": {"first_name": "  "}},
    )
    assert result.missing == [
        "recipient.first_name",
        "account.renewal_date",
        "context",
        "made.up_fact",
    ]
    assert "(renewal date unknown)" in result.text
    assert result.text.startswith("Hi there,")
    assert "(made up fact unknown)" in result.text
    assert find_placeholders(result.text) == set()
    assert unfilled_placeholders(result.text) == []


def test_unfilled_placeholders_catches_llm_leftovers() -> None:
    draft = (
        "Hi [Customer Name], following up on {renewal}. Regards, <your name>. "
        "The price is $XX,XXX. See [insert link]."
    )
    assert unfilled_placeholders(draft) == [
        "[Customer Name]",
        "{renewal}",
        "<your name>",
        "$XX,XXX",
        "[insert link]",
    ]


def test_unfilled_placeholders_ignores_slack_markup_and_links() -> None:
    clean = (
        "Hi <@U123>, see <https://example.com|the deck> in <#C42|cs> <!here>. "
        "[the docs](https://example.com) [1] [sic] a < b and c > d <b>bold</b> "
        "mail <ana@example.com>"
    )
    assert unfilled_placeholders(clean) == []


def test_truncate_keeps_short_text() -> None:
    assert truncate_at_sentence("Short. Text.", 50) == "Short. Text."


def test_truncate_cuts_at_sentence_boundary() -> None:
    text = "First sentence here. Second sentence is here. Third one is much longer than the rest."
    cut = truncate_at_sentence(text, 60)
    assert cut == "First sentence here. Second sentence is here."
    assert len(cut) <= 60


def test_truncate_falls_back_to_word_with_ellipsis() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    cut = truncate_at_sentence(text, 30)
    assert cut == "one two three four five six…"
    assert len(cut) <= 30


def test_truncate_bounds_long_drafts_to_slack_limit() -> None:
    text = "This sentence is exactly fifty characters long ok. " * 100
    cut = truncate_at_sentence(text)
    assert len(cut) <= 3000
    assert cut.endswith("ok.")
