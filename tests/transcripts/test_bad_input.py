"""Files that are not transcripts: each refused with a message a CS person can act on."""

from __future__ import annotations

import io
import zipfile

import pytest

from bot.transcripts import TranscriptError, parse_transcript, sha256_hex

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t "])
def test_empty_file(data):
    with pytest.raises(TranscriptError, match="empty|blank"):
        parse_transcript(data, "call.vtt")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        (b"ID3\x04\x00\x00\x00\x00\x00", "audio recording"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "recording (MP4"),
    ],
)
def test_binary_files_named_vtt_are_refused_by_content(data, kind):
    with pytest.raises(TranscriptError, match="not a transcript") as caught:
        parse_transcript(data, "call.vtt")

    assert kind in str(caught.value)


def test_zip_that_is_not_a_docx():
    data = _zip({"call.vtt": b"WEBVTT\n"})
    with pytest.raises(TranscriptError, match="zip archive"):
        parse_transcript(data, "call.zip")


def test_damaged_docx_zip_named_docx():
    data = _zip({"word/styles.xml": b"<x/>"})
    with pytest.raises(TranscriptError, match="damaged Word file"):
        parse_transcript(data, "call.docx")


def test_docx_with_broken_document_part():
    data = _zip({"word/document.xml": b"not xml", "[Content_Types].xml": b"nope"})
    with pytest.raises(TranscriptError, match="Word file looks damaged"):
        parse_transcript(data, "call.docx")


def test_nul_bytes_are_binary():
    with pytest.raises(TranscriptError, match="binary data"):
        parse_transcript(b"WEBVTT\n\n\x00\x01\x02\x03garbage\x00", "call.vtt")


def test_control_character_noise_is_binary():
    noise = bytes(range(1, 9)) * 200 + b"Jane: hi"
    with pytest.raises(TranscriptError, match="binary data"):
        parse_transcript(noise)


def test_over_the_size_limit_names_size_and_limit():
    data = b"Jane: hi\n" * 300_000  # 2.6 MB
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(data, "call.txt", max_bytes=1024 * 1024)

    assert "2.6 MB" in str(caught.value)
    assert "1.0 MB limit" in str(caught.value)


def test_file_at_the_limit_is_accepted():
    data = b"Jane: hi\n"
    assert parse_transcript(data, max_bytes=len(data)).word_count == 1


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        ("Zoë Müller: Grüße, we’ll send it\n".encode("utf-16"), "utf-16-le"),
        ("Zoë Müller: Grüße, we’ll send it\n".encode("utf-16-be"), "utf-16-be"),
        ("Zoë Müller: Grüße, we’ll send it\n".encode("utf-16-le"), "utf-16-le"),
        ("Zoë Müller: Grüße, we’ll send it\n".encode("utf-8-sig"), "utf-8-sig"),
        ("Zoë Müller: Grüße, we’ll send it\n".encode("cp1252"), "cp1252"),
    ],
)
def test_text_encodings_are_detected_and_recorded(encoded, encoding):
    parsed = parse_transcript(encoded, "call.txt")

    assert parsed.encoding == encoding
    assert parsed.speakers == ["Zoë Müller"]
    assert parsed.utterances[0].text == "Grüße, we’ll send it"


def test_bytes_undefined_in_cp1252_never_crash():
    parsed = parse_transcript(b"Jane: caf\xe9 \x81 ok\n")

    assert parsed.encoding == "latin-1"
    assert parsed.utterances[0].text.startswith("café")


def test_utf16_vtt_named_txt():
    parsed = parse_transcript("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nJo: hi\n".encode("utf-16"))

    assert (parsed.format, parsed.encoding, parsed.speakers) == ("vtt", "utf-16-le", ["Jo"])


def test_same_bytes_same_sha256(fixture_bytes):
    data = fixture_bytes("zoom.vtt")
    first = parse_transcript(data, "a.vtt")
    second = parse_transcript(bytes(data), "renamed.txt")

    assert first.sha256 == second.sha256 == sha256_hex(data)
    assert len(first.sha256) == 64
    assert parse_transcript(data + b"\n", "a.vtt").sha256 != first.sha256


def test_windows_line_endings(fixture_bytes):
    data = fixture_bytes("zoom.vtt").replace(b"\n", b"\r\n")
    parsed = parse_transcript(data)

    assert parsed.speakers == ["Priya Raman", "Tom O'Brien", "Dana Kim"]
