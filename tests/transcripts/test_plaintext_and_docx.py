"""Plain-text styles and DOCX (paragraphs read with the plain-text rules)."""

from __future__ import annotations

import io

import docx
import pytest

from bot.transcripts import TranscriptError, Utterance, parse_transcript


def _docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_name_colon_lines_and_continuations(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("plain_colon.txt"), "acme.txt")

    assert parsed.format == "text"
    assert parsed.speakers == ["Sarah Lopez", "Ben Okafor"]
    assert parsed.utterances[0] == Utterance(None, "Acme Corp - Quarterly Business Review")
    assert parsed.utterances[2].text == (
        "Yes. We'll send the updated pricing by Friday. "
        "It should include the volume discount we discussed."
    )
    # "Next steps:" is a phrase, not a speaker: it continues Sarah's turn
    assert parsed.utterances[3] == Utterance(
        "Sarah Lopez", "Great. Next steps: I will schedule the exec sync for next week."
    )
    assert parsed.duration_seconds is None


def test_bracketed_and_parenthesised_timestamps(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("plain_timestamps.txt"), "call.txt")

    assert [(u.speaker, u.start) for u in parsed.utterances] == [
        ("Sarah Lopez", 5.0),
        ("Ben Okafor", 12.0),
        ("Sarah Lopez", 62.0),
        ("Ben Okafor", 70.0),
    ]
    assert parsed.utterances[3].text == "And I'll loop in legal for the DPA."
    assert parsed.duration_seconds == 70.0


def test_otter_headers_with_text_below(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("otter.txt"), "otter.txt")

    assert [(u.speaker, u.start) for u in parsed.utterances] == [
        ("Ravi Patel", 0.0),
        ("Emma Stone", 7.0),
        ("Ravi Patel", 75.0),
        ("Emma Stone", 3723.0),
    ]
    assert parsed.utterances[1].text == (
        "Yeah, we saw adoption drop in October. Our champion left the company."
    )


def test_a_sentence_ending_in_a_time_is_not_an_otter_header():
    parsed = parse_transcript(b"Jane Doe: can we meet?\nMeet at 3:00\nok\n")

    assert parsed.utterances == [Utterance("Jane Doe", "can we meet? Meet at 3:00 ok")]


def test_text_without_any_speaker_or_timestamp_is_refused():
    with pytest.raises(TranscriptError, match="speaker labels"):
        parse_transcript(b"Shopping list\nmilk\neggs\n", "notes.txt")


def test_docx_teams_style_headers():
    data = _docx(
        [
            "Acme renewal sync",
            "Marcus Webb   0:03",
            "Thanks for joining.",
            "I'll send the revised quote tomorrow.",
            "Lena Fischer   0:15",
            "Great, thank you.",
        ]
    )
    parsed = parse_transcript(data, "Acme renewal sync.docx")

    assert parsed.format == "docx"
    assert parsed.speakers == ["Marcus Webb", "Lena Fischer"]
    assert parsed.utterances[1] == Utterance(
        "Marcus Webb", "Thanks for joining. I'll send the revised quote tomorrow.", 3.0
    )
    assert parsed.utterances[2].start == 15.0


def test_docx_colon_style_named_txt_is_still_docx():
    data = _docx(["Priya Raman: Can you send the SOC 2 report?", "Tom O'Brien: Yes, today."])
    parsed = parse_transcript(data, "transcript.txt")

    assert parsed.format == "docx"
    assert parsed.speakers == ["Priya Raman", "Tom O'Brien"]


def test_docx_without_speech_is_refused():
    with pytest.raises(TranscriptError, match="couldn't find any speech"):
        parse_transcript(_docx(["Agenda", "pricing, roadmap"]), "agenda.docx")


def test_otter_header_with_one_space_needs_a_capitalised_name():
    parsed = parse_transcript(b"Jane Doe 0:03\nWe'll ship it.\nsee you at 4:00\nthanks\n")

    assert parsed.utterances == [
        Utterance("Jane Doe", "We'll ship it. see you at 4:00 thanks", 3.0)
    ]


def test_name_alone_then_text_lines():
    parsed = parse_transcript(b"Jane Doe:\nI'll send it.\nBob:\nThanks.\n")

    assert parsed.utterances == [
        Utterance("Jane Doe", "I'll send it."),
        Utterance("Bob", "Thanks."),
    ]
