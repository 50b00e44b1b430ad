"""Each JSON export shape named in bot/transcripts/jsonfmt.py."""

from __future__ import annotations

import pytest

from bot.transcripts import TranscriptError, Utterance, parse_transcript


def test_bare_list_with_seconds_and_clock_strings(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("turns.json"), "turns.json")

    assert parsed.format == "json"
    assert [u.start for u in parsed.utterances] == [3.5, 7.0, 12.0]
    assert parsed.speakers == ["Project Manager", "Marketing Expert"]
    assert parsed.duration_seconds == 12.9


def test_transcript_key_as_in_the_dev_data(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("transcript_key.json"))

    assert parsed.utterances[0] == Utterance(
        "Project Manager", "Um well this is the kick-off meeting. For our project.", 55.98
    )
    assert parsed.utterances[1].speaker == "Industrial Designer"


def test_assemblyai_utterances_in_milliseconds(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("assemblyai.json"))

    assert parsed.utterances == [
        Utterance("Speaker A", "Can you send the invoice?", 0.25),
        Utterance("Speaker B", "Yes, I'll send it tomorrow.", 2.5),
    ]
    assert parsed.duration_seconds == 4.8


def test_whisper_segments(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("whisper.json"))

    assert parsed.utterances[0] == Utterance("SPEAKER_00", "We will fix the export bug.", 0.0)
    assert parsed.duration_seconds == 4.1


def test_whisper_text_only():
    parsed = parse_transcript(b'{"text": " We will fix it.", "language": "en"}')

    assert parsed.utterances == [Utterance(None, "We will fix it.")]


def test_otter_fireflies_sentences(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("fireflies.json"))

    assert parsed.utterances[1] == Utterance("Leo Grant", "I'll share it after this call.", 14.6)


def test_gong_call_transcripts_with_party_names(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("gong.json"))

    assert parsed.speakers == ["Maya Cohen", "Sam Reed", "Speaker 999"]
    assert parsed.utterances[0] == Utterance(
        "Maya Cohen", "We need the renewal quote. Ideally this week.", 460.23
    )


def test_invalid_json_says_where():
    with pytest.raises(TranscriptError, match=r"not valid JSON \(line 1"):
        parse_transcript(b'{"segments": [', "x.json")


@pytest.mark.parametrize("body", [b'{"foo": 1}', b"[1, 2]", b'"just a string"'])
def test_unknown_json_shape_is_refused(body):
    with pytest.raises(TranscriptError, match="isn't a transcript layout I know"):
        parse_transcript(body, "export.json")


def test_turns_without_text_have_no_speech():
    with pytest.raises(TranscriptError, match="couldn't find any speech"):
        parse_transcript(b'[{"speaker": "A", "text": "  "}]')
