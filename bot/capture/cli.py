"""`followthrough extract FILE`: what the Slack flow would propose for a transcript, offline.

No database and no Slack: the file is read, the engine asked, the proposals printed as a
table or as JSON (one object per commitment). Any problem with the file is one clear line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.llm.base import Commitment, ExtractionResult


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


class EngineName(StrEnum):
    RULES = "rules"
    OPENAI = "openai"


def as_json(result: ExtractionResult) -> list[dict[str, Any]]:
    """Pure: the JSON rows `--format json` prints."""
    return [
        {
            "owner": c.owner,
            "side": str(c.side),
            "text": c.text,
            "due": c.due.isoformat() if c.due else None,
            "due_phrase": c.due_phrase,
            "category": str(c.category),
            "evidence": c.evidence,
            "confidence": round(c.confidence, 2),
        }
        for c in result.commitments
    ]


def _cut(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def as_table(result: ExtractionResult) -> str:
    """Pure: a fixed-width table, one commitment per line, quote underneath."""
    if not result.commitments:
        return "No commitments found."
    lines = [f"{'#':>2}  {'OWNER':<16} {'DUE':<10} {'CATEGORY':<10} COMMITMENT"]
    for n, c in enumerate(result.commitments, start=1):
        lines.append(
            f"{n:>2}  {_cut(c.owner or '?', 16):<16} "
            f"{c.due.isoformat() if c.due else '-':<10} "
            f"{str(c.category):<10} {_cut(c.text, 90)}"
        )
        lines.append(
            f"{'':>4}“{_cut(c.evidence, 100)}”" + (f"  ({c.due_phrase})" if c.due_phrase else "")
        )
    return "\n".join(lines)


def _read(path: Path, limit: int) -> bytes:
    if not path.exists():
        raise ValueError(f"No such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a transcript file.")
    size = path.stat().st_size
    if size > limit:
        raise ValueError(
            f"{path.name} is {size / 1048576:.1f} MB, over the "
            f"{limit / 1048576:.0f} MB limit for transcripts (MAX_TRANSCRIPT_MB)."
        )
    return path.read_bytes()


def extract_file(
    path: Path, *, call_date: dt.date | None, engine_name: str | None, settings: Any
) -> ExtractionResult:
    """Read, parse and extract; ValueError (user-safe message) for anything unfit."""
    from bot.capture.extract import call_date_for, max_bytes
    from bot.config import ConfigError
    from bot.llm import get_engine
    from bot.llm.base import CallContext, LLMError
    from bot.transcripts import TranscriptError, parse_transcript

    limit = max_bytes(settings)
    try:
        data = _read(path, limit)
    except OSError as exc:
        raise ValueError(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        parsed = parse_transcript(data, path.name, max_bytes=limit)
        engine = get_engine(settings, engine_name)
        when = call_date or call_date_for(path.name, None, dt.date.today())
        return engine.extract(parsed.utterances, CallContext(call_date=when))
    except (TranscriptError, LLMError, ConfigError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def extract(
        file: Annotated[Path, typer.Argument(help="Transcript: .vtt, .srt, .txt, .json, .docx")],
        call_date: Annotated[
            str | None,
            typer.Option(
                "--call-date",
                help="Date of the call, YYYY-MM-DD (default: from the file name, "
                "else today); due phrases are resolved against it",
            ),
        ] = None,
        engine: Annotated[
            EngineName | None, typer.Option(help="Engine (default: LLM_ENGINE)")
        ] = None,
        output: Annotated[Output, typer.Option("--format", help="table or json")] = Output.TABLE,
    ) -> None:
        """Print the commitments the Slack flow would propose for FILE."""
        from bot.clikit import fail, settings_or_exit

        settings = settings_or_exit()
        try:
            when = dt.date.fromisoformat(call_date) if call_date else None
        except ValueError:
            raise fail(f"--call-date '{call_date}' is not a date like 2026-11-20", 2) from None
        try:
            result = extract_file(
                file,
                call_date=when,
                engine_name=engine.value if engine else None,
                settings=settings,
            )
        except ValueError as exc:
            raise fail(str(exc), 1) from None
        if result.fallback_reason:
            typer.secho(
                f"warning: the LLM step failed ({result.fallback_reason}); these are "
                "the rules engine's proposals.",
                err=True,
                fg=typer.colors.YELLOW,
            )
        if output == Output.JSON:
            typer.echo(json.dumps(as_json(result), indent=2, ensure_ascii=False))
        else:
            typer.echo(as_table(result))


__all__ = ["Commitment", "as_json", "as_table", "extract_file", "register"]
