"""Byte-level checks before parsing: refuse non-text files, decode text without crashing.

The file name is never trusted: a PNG renamed to .vtt is still a PNG.
"""

from __future__ import annotations

import codecs

from bot.transcripts.model import TranscriptError

_RE_EXPORT = "Upload the transcript file itself (.vtt, .srt, .txt, .json or .docx)."

# Leading bytes of files people upload by mistake, with a name they will recognise.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Office file (.doc/.xls)"),
    (b"\x1f\x8b", "a compressed (gzip) archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"ID3", "an audio recording (MP3)"),
    (b"OggS", "an audio recording (Ogg)"),
    (b"fLaC", "an audio recording (FLAC)"),
    (b"\x1aE\xdf\xa3", "a video recording (WebM/MKV)"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL_ALLOWED = frozenset("\t\n\r\f\v")
_MAX_CONTROL_SHARE = 0.01


def is_zip(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def refuse_known_binary(data: bytes) -> None:
    """Raise for images, PDFs, archives and recordings, naming what the file really is."""
    kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    if kind is None and len(data) >= 12:
        if data[4:8] == b"ftyp":
            kind = "an audio/video recording (MP4/M4A)"
        elif data.startswith(b"RIFF") and data[8:12] in (b"WAVE", b"AVI "):
            kind = "an audio/video recording (WAV/AVI)"
    if kind is not None:
        raise TranscriptError(f"This file is {kind}, not a transcript. {_RE_EXPORT}")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode to (text, encoding used). Never fails on odd bytes.

    Order: a byte-order mark; UTF-16 without BOM (NUL in every other byte); UTF-8; cp1252
    (Windows exports); latin-1, which maps every byte and so always succeeds.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            base = encoding.removesuffix("-sig")
            return data[len(bom) :].decode(base, errors="replace"), encoding
    bomless = _bomless_utf16(data)
    if bomless is not None:
        return data.decode(bomless, errors="replace"), bomless
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def refuse_binary_text(text: str) -> None:
    """Raise when decoded "text" holds NULs or many control characters (a binary file)."""
    sample = text[:20_000]
    controls = sum(1 for ch in sample if ch < " " and ch not in _CONTROL_ALLOWED)
    if "\x00" in sample or controls > len(sample) * _MAX_CONTROL_SHARE:
        raise TranscriptError(
            f"This file contains binary data, not text, so it isn't a transcript. {_RE_EXPORT}"
        )


def _bomless_utf16(data: bytes) -> str | None:
    sample = data[:4000]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.4 and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.4 and odd.count(0) == 0:
        return "utf-16-be"
    return None
