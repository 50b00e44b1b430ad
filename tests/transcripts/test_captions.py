"""WebVTT (Zoom, Teams) and SRT parsing, including the broken-timestamp policy."""

from __future__ import annotations

import pytest

from bot.transcripts import TranscriptError, Utterance, parse_transcript


def _vtt(cues: list[tuple[str, str]]) -> bytes:
    blocks = ["WEBVTT", ""]
    for number, (timing, text) in enumerate(cues, start=1):
        blocks += [str(number), timing, text, ""]
    return "\n".join(blocks).encode()


def test_zoom_vtt_merges_consecutive_cues_of_one_speaker(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("zoom.vtt"), "zoom.vtt")

    assert parsed.format == "vtt"
    assert parsed.speakers == ["Priya Raman", "Tom O'Brien", "Dana Kim"]
    assert [u.speaker for u in parsed.utterances] == [
        "Priya Raman",
        "Tom O'Brien",
        "Priya Raman",
        "Dana Kim",
    ]
    first = parsed.utterances[0]
    assert first.start == pytest.approx(1.02)
    assert first.text == (
        "Thanks for joining, everyone. Let's go through the renewal. "
        "First, the SSO rollout slipped last month."
    )
    # whitespace collapsed, entity decoded, the empty cue of Tom dropped
    assert parsed.utterances[1].text.endswith("by Friday. It's mostly done.")
    assert "QBR & the exec sync" in parsed.utterances[2].text
    assert parsed.duration_seconds == pytest.approx(25.75)
    assert parsed.skipped_cues == 0


def test_teams_vtt_reads_voice_tags_and_cue_ids(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("teams.vtt"), "meeting.vtt")

    assert parsed.speakers == ["Marcus Webb", "Lena Fischer"]  # "Lena  Fischer" collapsed
    assert parsed.utterances[0] == Utterance(
        "Marcus Webb",
        "Hi Lena, thanks for making time today. "
        "I wanted to talk about the onboarding for the second team.",
        2.13,
    )
    assert parsed.utterances[-1].text == "OK. And please send the revised training plan too."
    assert all("<" not in u.text for u in parsed.utterances)


def test_srt_with_speaker_prefixes_and_italics(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("meeting.srt"), "meeting.srt")

    assert parsed.format == "srt"
    assert parsed.speakers == ["Alex Chen", "Jordan Blake"]
    assert parsed.utterances[1] == Utterance(
        "Jordan Blake", "We're blocked on the API keys. Can you regenerate them?", 3.4
    )
    assert parsed.utterances[3] == Utterance("Jordan Blake", "Perfect, thanks.", 11.2)
    assert parsed.duration_seconds == pytest.approx(13.6)


def test_captions_without_speakers_keep_each_cue():
    data = _vtt(
        [
            ("00:00:01.000 --> 00:00:02.000", "hello there"),
            ("00:00:02.000 --> 00:00:03.000", "general kenobi"),
        ]
    )
    parsed = parse_transcript(data)

    assert [u.start for u in parsed.utterances] == [1.0, 2.0]
    assert parsed.speakers == []


def test_vtt_with_mostly_broken_timestamps_is_refused(fixture_bytes):
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(fixture_bytes("broken_timestamps.vtt"), "call.vtt")

    message = str(caught.value)
    assert "broken timestamps" in message
    assert "3 of 4" in message
    assert "line 4" in message


def test_vtt_with_few_broken_cues_keeps_the_good_ones_and_counts_the_rest():
    cues = [
        (f"00:00:{i:02d}.000 --> 00:00:{i:02d}.500", f"Speaker {i % 2}: line {i}")
        for i in range(20)
    ]
    cues[7] = ("00:00:07.000 -> 00:00:07.500", "Speaker 1: lost line")  # typo: "->"
    cues[9] = ("00:00:09,000 --> 00:00:09,500", "Speaker 1: lost too")  # comma, SRT style
    parsed = parse_transcript(_vtt(cues))

    assert parsed.skipped_cues == 2
    assert "lost" not in " ".join(u.text for u in parsed.utterances)
    assert parsed.word_count == 18 * 2


def test_vtt_above_the_broken_share_is_refused_with_the_first_bad_line():
    cues = [(f"00:00:{i:02d}.000 --> 00:00:{i:02d}.500", f"Jane: line {i}") for i in range(9)]
    cues[4] = ("00:00:04.000 --> 00:00:04:500", "Jane: bad")  # ":" before the milliseconds
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(_vtt(cues), "call.vtt")

    assert "1 of 9" in str(caught.value)
    assert "00:00:04.000 --> 00:00:04:500" in str(caught.value)


def test_vtt_with_no_cues_has_no_speech():
    with pytest.raises(TranscriptError, match="couldn't find any speech"):
        parse_transcript(b"WEBVTT\n\nNOTE nothing was said\n")


def test_vtt_named_txt_is_parsed_as_vtt(fixture_bytes):
    parsed = parse_transcript(fixture_bytes("zoom.vtt"), "notes.txt")

    assert parsed.format == "vtt"
    assert parsed.speakers[0] == "Priya Raman"


def test_srt_named_vtt_is_parsed_as_srt(fixture_bytes):
    assert parse_transcript(fixture_bytes("meeting.srt"), "meeting.vtt").format == "srt"


def test_ninety_minute_transcript_is_parsed_completely():
    cues = []
    for i in range(1500):
        start, end = i * 3600, i * 3600 + 3500  # milliseconds
        timing = f"{_clock(start)} --> {_clock(end)}"
        cues.append((timing, f"Speaker {i % 3}: " + " ".join(["word"] * 9)))
    parsed = parse_transcript(_vtt(cues))

    assert parsed.word_count == 13_500
    assert len(parsed.utterances) == 1500
    assert parsed.duration_seconds == pytest.approx(1499 * 3.6 + 3.5)


def _clock(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}:{secs:02d}.{millis:03d}"


def test_teams_voice_tag_without_closing_tag():
    data = _vtt([("00:00:01.000 --> 00:00:02.000", "<v Jane Doe>Note: we will ship")])

    assert parse_transcript(data).utterances == [Utterance("Jane Doe", "Note: we will ship", 1.0)]


def test_srt_with_timings_missing_milliseconds_is_refused():
    data = b"1\n00:00:01 --> 00:00:04\nAlex: hi\n\n2\n00:00:05 --> 00:00:06\nSam: hello\n"
    with pytest.raises(TranscriptError, match="SRT file has broken timestamps: 2 of 2"):
        parse_transcript(data, "call.srt")
