"""Word (.docx) transcripts, as Teams and Zoom export them: paragraphs read with the
plain-text rules ("Jane Doe  0:03" header + text paragraphs, or "Jane Doe: text")."""

from __future__ import annotations

import io
import zipfile

import docx

from bot.transcripts.model import FormatResult, TranscriptError
from bot.transcripts.plaintext import parse_lines

_DOCUMENT_PART = "word/document.xml"


def is_docx_zip(data: bytes) -> bool:
    """A .docx is a zip holding word/document.xml; other zips (xlsx, pptx, archives) are not."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _DOCUMENT_PART in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def parse_docx(data: bytes) -> FormatResult:
    """Read paragraph text (soft line breaks split lines) and apply the plain-text rules."""
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # any failure inside a damaged package (zip, XML, parts)
        raise TranscriptError(
            "This Word file looks damaged and could not be opened. Open it in Word, save it "
            "again as .docx (or download the transcript again) and re-upload."
        ) from error
    lines: list[str] = []
    for paragraph in document.paragraphs:
        lines.extend(paragraph.text.split("\n"))
    return parse_lines(lines)
