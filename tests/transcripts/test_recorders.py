"""Every recorder's export, each from a fixture laid out as the vendor documents it."""

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


def test_zoom_saved_transcript_text(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("zoom_saved_transcript.txt"), "meeting_saved.txt")

    assert parsed.format == "text"
    assert parsed.speakers == ["Priya Raman", "Tom O'Brien"]
    assert parsed.utterances[2] == Utterance(
        "Priya Raman",
        "Understood. I'll get you a fix or a workaround by Thursday. "
        "And I'll send the release notes too.",
        14 * 3600 + 2 * 60 + 31,
    )


def test_google_meet_caption_vtt_with_name_lines(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("meet_captions.vtt"), "meet.vtt")

    assert parsed.skipped_cues == 0
    assert [(u.speaker, u.text) for u in parsed.utterances] == [
        ("Dana Reyes", "Thanks for hopping on, Sam."),
        ("Sam Ortiz", "Sure. The SAML config is still failing."),
        ("Dana Reyes", "I will send you the SSO setup guide by Friday."),
        ("Sam Ortiz", "Perfect."),
        (None, "(laughs) yeah"),  # a sound, not a speaker
    ]


def test_google_meet_transcript_document_drops_header_and_footer(fixture_bytes):
    lines = fixture_bytes("meet_transcript.txt").decode().split("\n")
    for data, name in ((fixture_bytes("meet_transcript.txt"), "t.txt"), (_docx(lines), "t.docx")):
        parsed = parse_transcript(data, name)

        assert parsed.speakers == ["Dana Reyes", "Sam Ortiz", "Lee Park"], name
        assert parsed.utterances[0] == Utterance(
            "Dana Reyes", "Hi everyone, thanks for joining.", 0.0
        )
        assert parsed.utterances[3].start == 300.0  # the 00:05:00 mark dates the next line
        assert parsed.utterances[-1].text == "Great."
        assert all("computer generated" not in u.text for u in parsed.utterances)


def test_teams_voice_names_have_entities_unescaped(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("teams_entities.vtt"), "teams.vtt")

    assert parsed.speakers == ["Carlos Farías", "Ana Müller & Co"]
    assert parsed.utterances[0].text == "Buenos días, thanks for the time."
    assert parsed.utterances[1].text == "I'll send the DPA tomorrow."


def test_teams_graph_metadata_content(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("teams_metadata_content.vtt"), "metadataContent")

    assert parsed.utterances == [
        Utterance("Adele Vance", "Thanks for joining the renewal call.", 16.246),
        Utterance("Megan Bowen", "I'll send the signed order form by Friday.", 18.1),
        Utterance("Adele Vance", "Great, thank you.", 23.0),
    ]


@pytest.mark.parametrize("name", ["otter_footer.txt", "otter_footer.docx"])
def test_otter_footer_is_stripped(fixture_bytes, name):
    raw = fixture_bytes("otter_footer.txt")
    data = raw if name.endswith(".txt") else _docx(raw.decode().split("\n"))
    parsed = parse_transcript(data, name)

    assert parsed.utterances[-1] == Utterance("Emma Stone", "Sounds good.", 3723.0)
    assert parsed.speakers == ["Ravi Patel", "Emma Stone"]


def test_youtube_rolling_captions_are_deduplicated(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("youtube_rolling.vtt"), "video.en.vtt")

    assert [u.text for u in parsed.utterances] == [
        "so today we're covering",
        "the renewal timeline",
        "and I'll send the deck tomorrow",
    ]
    assert [u.start for u in parsed.utterances] == [0.0, 2.52, 5.2]


def test_deepgram_utterances(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("deepgram_utterances.json"), "dg.json")

    assert parsed.utterances == [
        Utterance("Speaker 0", "Can you send us the export by Friday?", 0.08),
        Utterance("Speaker 1", "Yep. End of next week at the latest.", 3.2),
    ]
    assert parsed.duration_seconds == 6.1


def test_deepgram_paragraphs(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("deepgram_paragraphs.json"))

    assert parsed.utterances == [
        Utterance("Speaker 0", "Thanks everyone. I'll share the roadmap tomorrow.", 0.1),
        Utterance("Speaker 1", "Sounds good.", 5.0),
    ]


def test_deepgram_words_grouped_by_speaker(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("deepgram_words.json"))

    assert parsed.utterances == [
        Utterance("Speaker 0", "We will fix it.", 0.0),
        Utterance("Speaker 1", "Okay.", 1.5),
    ]


def test_rev_ai_monologues(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("revai.json"), "rev.json")

    assert parsed.utterances == [
        Utterance("Dana Reyes", "Can you sign it?", 0.5),
        Utterance("Speaker 1", "Consider it done.", 2.0),
    ]
    assert parsed.duration_seconds == 2.9


def test_whisperx_segments(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("whisperx.json"))

    assert parsed.utterances[0] == Utterance(
        "SPEAKER_01", "I'll send the security questionnaire tomorrow.", 0.031
    )
    assert parsed.speakers == ["SPEAKER_01", "SPEAKER_00"]


def test_fireflies_graphql_answer(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("fireflies_graphql.json"))

    assert parsed.utterances[0] == Utterance("Maya Cohen", "Let me get you the admin guide.", 1.2)


def test_unknown_json_is_refused_naming_what_it_holds():
    with pytest.raises(TranscriptError, match="keys items, next_page") as caught:
        parse_transcript(b'{"items": [1, 2], "next_page": null}', "x.json")
    assert "Deepgram" in str(caught.value)


def test_unknown_json_list_names_its_items():
    with pytest.raises(TranscriptError, match="a list of 3 item"):
        parse_transcript(b"[1, 2, 3]", "x.json")


def test_zoom_chat_log_is_refused_as_chat(fixture_bytes):
    with pytest.raises(TranscriptError, match="chat log"):
        parse_transcript(fixture_bytes("zoom_chat.txt"), "meeting_saved_chat.txt")


def test_text_without_labels_says_how_many_lines_it_read():
    with pytest.raises(TranscriptError, match="I read 2 line"):
        parse_transcript(b"Shopping list\nmilk and eggs\n", "notes.txt")


def test_meet_name_lines_standing_alone_before_their_cue():
    data = (
        b"WEBVTT\n\n(Dana Reyes)\n\n00:00:01.000 --> 00:00:03.000\nHello Sam.\n\n"
        b"(Sam Ortiz)\n\n00:00:03.500 --> 00:00:05.000\nHi Dana.\n"
    )
    parsed = parse_transcript(data, "meet.vtt")

    assert parsed.skipped_cues == 0
    assert [(u.speaker, u.text) for u in parsed.utterances] == [
        ("Dana Reyes", "Hello Sam."),
        ("Sam Ortiz", "Hi Dana."),
    ]
