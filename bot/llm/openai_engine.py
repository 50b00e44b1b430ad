"""The `openai` engine: commitments and step drafts from any OpenAI-compatible server.

The model only proposes. Every answer is validated here before anyone sees it: the JSON must
match the schema (one repair request otherwise), every quote must really be in the
transcript, owners must be real speakers and dates real dates. When the server is down, slow,
refuses, or keeps answering nonsense, the offline rules engine answers instead and the result
says so (`fallback_reason`). Transcript text is untrusted: it is fenced in the prompt, look-
alike fence markers are removed from it, and it is never logged.

Servers differ (see `bot/devtools/llm_servers` for stand-ins of each): the engine asks for
`json_schema` structured output, and when the server refuses it (older Azure api-versions,
older llama.cpp builds, vLLM without guided decoding) falls back to `json_object`, then to
plain instructions; whatever comes back is validated, with one repair. The model's context
length is asked of the server once — vLLM's `/v1/models` `max_model_len`, llama.cpp's `/props`
`n_ctx`, Ollama's `/api/show` (its `num_ctx`, which Ollama otherwise enforces by silently
cutting the prompt) — or set with LLM_CONTEXT_TOKENS, and transcripts are chunked to fit it.
Every call logs its mode, token counts and latency at INFO (never the text).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.llm.base import (
    CallContext,
    Category,
    Commitment,
    ExtractionEngine,
    ExtractionResult,
    LLMError,
    Side,
)
from bot.llm.chunking import Chunk, chunk_utterances
from bot.llm.merge import merge_commitments, normalise
from bot.transcripts.model import Utterance

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"

# --- prompts -----------------------------------------------------------------------------

_SECTION = re.compile(r"^## (\w+)[ \t]*$", re.MULTILINE)
_SLOT = re.compile(r"\{\{(\w+)\}\}")
_FENCE_MARKER = re.compile(r"<\s*/?\s*(?:transcript|context)\b[^<>]*>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def load_prompt(name: str, prompts_dir: Path | None = None) -> dict[str, str]:
    """The `## section` parts of `prompts/<name>.md`; text before the first section is notes."""
    path = (prompts_dir or PROMPTS_DIR) / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def fill(text: str, /, **values: object) -> str:
    """Replace `{{name}}` slots in one pass, so values that contain slots stay as they are."""

    def slot(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"prompt slot {{{{{key}}}}} has no value")
        return str(values[key])

    return _SLOT.sub(slot, text)


def neutralise(text: str) -> str:
    """Untrusted text with anything that looks like a fence marker made harmless."""
    return _FENCE_MARKER.sub("(marker removed)", text)


def one_line(text: str) -> str:
    """Collapse newlines so untrusted text cannot start a fake `[n] Speaker:` line."""
    return _WHITESPACE.sub(" ", neutralise(text)).strip()


def render_transcript(chunk: Chunk) -> str:
    """One `[global index] Speaker: text` line per utterance, safe to put inside the fence."""
    return "\n".join(
        f"[{index}] {one_line(u.speaker or 'Unknown') or 'Unknown'}: {one_line(u.text)}"
        for index, u in chunk.indexed()
    )


def _names(names: Sequence[str]) -> str:
    return ", ".join(one_line(n) for n in names) or "not known"


def render_extraction_messages(
    prompt: Mapping[str, str], chunk: Chunk, part: int, parts: int, context: CallContext
) -> list[dict[str, str]]:
    """System and user messages for one chunk; only the user message carries the data."""
    user = fill(
        prompt["user"],
        call_date=context.call_date.isoformat(),
        account_name=one_line(context.account_name or "not known"),
        our_speakers=_names(context.our_speakers),
        customer_speakers=_names(context.customer_speakers),
        part=part,
        parts=parts,
        transcript=render_transcript(chunk),
    )
    return [{"role": "system", "content": prompt["system"]}, {"role": "user", "content": user}]


# --- the answer's schema -----------------------------------------------------------------

_ITEM_FIELDS: dict[str, dict[str, Any]] = {
    "owner": {"type": ["string", "null"]},
    "side": {"type": "string", "enum": [s.value for s in Side]},
    "text": {"type": "string"},
    "due": {"type": ["string", "null"], "description": "ISO date YYYY-MM-DD"},
    "due_phrase": {"type": ["string", "null"]},
    "category": {"type": "string", "enum": [c.value for c in Category]},
    "evidence": {"type": "string"},
    "confidence": {"type": "number"},
    "utterance_index": {"type": ["integer", "null"]},
}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["commitments"],
    "properties": {
        "commitments": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": list(_ITEM_FIELDS),
                "properties": _ITEM_FIELDS,
            },
        }
    },
}

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "commitments", "schema": ANSWER_SCHEMA, "strict": True},
}


class Mode(StrEnum):
    """How the answer's shape is asked for, from the strictest to what every server takes."""

    JSON_SCHEMA = "json_schema"  # structured output: the server enforces the schema
    JSON_OBJECT = "json_object"  # JSON mode: valid JSON, the schema is in the prompt
    PLAIN = "plain"  # instructions only; the answer is searched for JSON and validated


MODES = tuple(Mode)
_SCHEMA_NOTE = (
    "\n\nAnswer with one JSON object only — no prose, no code fences — that matches this "
    "JSON schema:\n"
)


def response_format_for(mode: Mode) -> dict[str, Any] | None:
    if mode is Mode.JSON_SCHEMA:
        return RESPONSE_FORMAT
    if mode is Mode.JSON_OBJECT:
        return {"type": "json_object"}
    return None


def messages_for(mode: Mode, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Without structured output the schema goes into the system message."""
    if mode is Mode.JSON_SCHEMA or not messages or messages[0]["role"] != "system":
        return messages
    system = messages[0]["content"] + _SCHEMA_NOTE + json.dumps(ANSWER_SCHEMA)
    return [{"role": "system", "content": system}, *messages[1:]]


class RawCommitment(BaseModel):
    """One item as the model wrote it, before it is checked against the transcript."""

    model_config = ConfigDict(extra="ignore")

    owner: str | None = None
    side: str | None = None
    text: str
    due: str | None = None
    due_phrase: str | None = None
    category: str | None = None
    evidence: str
    confidence: float | None = None
    utterance_index: int | None = None


class RawAnswer(BaseModel):
    commitments: list[RawCommitment]


class InvalidAnswer(ValueError):
    """The model's answer is not the JSON we asked for; the message goes back in the repair."""


_CODE_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_FENCED_ANYWHERE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def describe(error: ValidationError) -> str:
    """A short account of what is wrong, without echoing the values (they may quote the call)."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)[:5]
    ]
    return "; ".join(parts)


def parse_answer(content: str | None) -> list[RawCommitment]:
    """The items of an answer, or `InvalidAnswer` saying what is wrong with it."""
    if content is None or not content.strip():
        raise InvalidAnswer("the answer was empty")
    text = content.strip()
    fenced = _CODE_FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        data = _json_in_prose(text)
        if data is None:
            raise InvalidAnswer(
                f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
            ) from None
    if isinstance(data, list):
        data = {"commitments": data}
    try:
        return RawAnswer.model_validate(data).commitments
    except ValidationError as error:
        raise InvalidAnswer(f"does not match the schema ({describe(error)})") from None


def _json_in_prose(text: str) -> Any:
    """The JSON object inside "Sure! Here are the commitments: ```json {…}```" (models asked
    without structured output often wrap it), or None."""
    candidates = [m.group(1) for m in _FENCED_ANYWHERE.finditer(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


# --- checking items against the transcript -----------------------------------------------

_ELLIPSIS = re.compile(r"\.\.\.+|…")
_LABEL_PREFIX = re.compile(r"^\s*\[\d+\]\s*(?:[^:\n]{1,60}:\s*)?")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ].*)?")
_MAX_DUE_DISTANCE = dt.timedelta(days=3 * 366)

_CATEGORY_SYNONYMS = {
    "followup": Category.FOLLOW_UP,
    "follow": Category.FOLLOW_UP,
    "resource": Category.FOLLOW_UP,
    "send_resource": Category.FOLLOW_UP,
    "configuration": Category.INTEGRATION,
    "config": Category.INTEGRATION,
    "setup": Category.INTEGRATION,
    "technical": Category.INTEGRATION,
    "success_milestone": Category.MILESTONE,
    "goal": Category.MILESTONE,
    "risk_acknowledgement": Category.RISK,
    "risk_acknowledgment": Category.RISK,
    "renewal_prerequisite": Category.RENEWAL,
    "contract": Category.RENEWAL,
}
_SIDE_SYNONYMS = {
    "ours": Side.OURS,
    "our": Side.OURS,
    "us": Side.OURS,
    "vendor": Side.OURS,
    "internal": Side.OURS,
    "customer": Side.CUSTOMER,
    "client": Side.CUSTOMER,
    "theirs": Side.CUSTOMER,
}


def _padded(text: str) -> str:
    return f" {normalise(neutralise(text))} "


def _contains(haystack: str, evidence_parts: list[str]) -> bool:
    """All parts occur in `haystack`, in order, on word boundaries."""
    position = 0
    for part in evidence_parts:
        found = haystack.find(part, position)
        if found < 0:
            return False
        position = found + len(part) - 1
    return True


def locate_evidence(
    evidence: str, indexed: Sequence[tuple[int, Utterance]], hint: int | None = None
) -> int | None:
    """Global index of the utterance that holds `evidence`, or None if it was never said.

    Matching ignores case, punctuation and spacing; an ellipsis may skip words. A quote that
    runs over up to three consecutive utterances (people get cut off) is found at its first
    one. Among several matches, the one nearest the model's own `hint` wins.
    """
    quote = _LABEL_PREFIX.sub("", evidence)
    parts = [f" {p} " for p in (normalise(neutralise(s)) for s in _ELLIPSIS.split(quote)) if p]
    if not parts:
        return None
    texts = [normalise(neutralise(u.text)) for _, u in indexed]
    for span in (1, 2, 3):
        matches = [
            indexed[i][0]
            for i in range(len(indexed) - span + 1)
            if _contains(f" {' '.join(texts[i : i + span])} ", parts)
        ]
        if matches:
            if hint is None:
                return matches[0]
            return min(matches, key=lambda index: abs(index - hint))
    return None


def resolve_owner(owner: str | None, speakers: Sequence[str]) -> str | None:
    """The speaker label the model meant, or None when it named nobody who spoke.

    An exact (case-insensitive) match wins; otherwise a unique whole-word match either way
    ("Sarah" → "Sarah Chen", "Sarah Chen (Acme)" → "Sarah Chen"). Invented names become None
    so the commitment is kept for review but never assigned to someone who was not there.
    """
    if not owner or not normalise(owner):
        return None
    wanted = normalise(owner)
    for speaker in speakers:
        if normalise(speaker) == wanted:
            return speaker
    partial = [
        s
        for s in speakers
        if normalise(s) and (f" {wanted} " in _padded(s) or _padded(s) in f" {wanted} ")
    ]
    return partial[0] if len(partial) == 1 else None


def parse_due(value: str | None, call_date: dt.date) -> dt.date | None:
    """An ISO date within three years of the call, else None (the due phrase is kept)."""
    if not value:
        return None
    match = _ISO_DATE.fullmatch(value.strip())
    if not match:
        return None
    try:
        due = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return due if abs(due - call_date) <= _MAX_DUE_DISTANCE else None


def _key(value: str | None) -> str:
    return normalise(value or "").replace(" ", "_")


def coerce_category(value: str | None) -> Category:
    key = _key(value)
    try:
        return Category(key)
    except ValueError:
        return _CATEGORY_SYNONYMS.get(key, Category.OTHER)


def side_of(owner: str | None, context: CallContext, claimed: str | None) -> Side:
    """The context's speaker lists decide; the model's claim only fills the gaps."""
    if owner:
        wanted = normalise(owner)
        if any(normalise(s) == wanted for s in context.our_speakers):
            return Side.OURS
        if any(normalise(s) == wanted for s in context.customer_speakers):
            return Side.CUSTOMER
    return _SIDE_SYNONYMS.get(_key(claimed), Side.UNKNOWN)


def to_commitment(
    raw: RawCommitment,
    indexed: Sequence[tuple[int, Utterance]],
    speakers: Sequence[str],
    context: CallContext,
) -> Commitment | None:
    """A checked commitment, or None when the item has no real quote or cannot be valid."""
    index = locate_evidence(raw.evidence, indexed, raw.utterance_index)
    if index is None:
        logger.debug("dropped an item: its evidence is not in the transcript")
        return None
    owner = resolve_owner(raw.owner, speakers)
    confidence = 0.5 if raw.confidence is None else min(max(raw.confidence, 0.0), 1.0)
    try:
        return Commitment(
            owner=owner,
            side=side_of(owner, context, raw.side),
            text=" ".join(raw.text.split())[:300],
            due=parse_due(raw.due, context.call_date),
            due_phrase=(raw.due_phrase or "").strip() or None,
            category=coerce_category(raw.category),
            evidence=raw.evidence.strip(),
            confidence=confidence,
            utterance_index=index,
        )
    except ValidationError as error:
        logger.debug("dropped an item: %s", describe(error))
        return None


def check_items(
    items: Sequence[RawCommitment],
    chunk: Chunk,
    speakers: Sequence[str],
    context: CallContext,
) -> list[Commitment]:
    """The items of one chunk's answer that survive the checks."""
    indexed = chunk.indexed()
    checked = (to_commitment(item, indexed, speakers, context) for item in items)
    return [c for c in checked if c is not None]


def speakers_of(utterances: Sequence[Utterance]) -> list[str]:
    """Distinct speaker labels in order of first appearance."""
    return list(dict.fromkeys(u.speaker for u in utterances if u.speaker and u.speaker.strip()))


# --- drafts ------------------------------------------------------------------------------

_PLACEHOLDERS = (
    re.compile(r"\{\{?\s*[A-Za-z_][\w.\- ]{0,40}\}\}?"),  # {account.name}, {{name}}
    re.compile(r"\[\s*[A-Za-z][A-Za-z0-9 _.'/\-]{0,40}\]"),  # [Name], [insert date]
    re.compile(r"<\s*[A-Za-z][A-Za-z0-9 _.'\-]{0,40}>"),  # <first name>, not <@U1> or <http…>
)
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*(?=\s|$)")
_OUTER_QUOTES = ('"', "“", "'")


def find_placeholders(text: str) -> list[str]:
    """Unfilled template slots left in a draft. Slack's `<@U…>`/`<https://…|…>` are fine."""
    return [m.group(0) for pattern in _PLACEHOLDERS for m in pattern.finditer(text)]


def truncate_at_sentence(text: str, max_chars: int) -> str:
    """At most `max_chars`, cut after the last whole sentence (or word, if none is long enough)."""
    if len(text) <= max_chars:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= max_chars]
    if ends and ends[-1] >= max_chars // 2:
        return text[: ends[-1]].rstrip()
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def clean_draft(content: str | None) -> str:
    """The message without code fences or quotes wrapped around all of it."""
    text = (content or "").strip()
    fenced = re.fullmatch(r"```\w*\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    if len(text) > 1 and text[0] in _OUTER_QUOTES and text[-1] in {'"', "”", "'"}:
        text = text[1:-1].strip()
    return text


def _as_data(value: object) -> str:
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# --- the engine --------------------------------------------------------------------------


class _Failure(Exception):
    """The server could not give a usable answer; `reason` is safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Unsupported(_Failure):
    """The server refused the way the answer's shape was asked for (`response_format`)."""


class _TooLong(_Failure):
    """The request did not fit the model's context; `limit` is the context the server named."""

    def __init__(self, reason: str, limit: int | None = None) -> None:
        super().__init__(reason)
        self.limit = limit


_UNSUPPORTED = re.compile(
    r"response_format|json_schema|json_object|structured output|guided|grammar", re.IGNORECASE
)
_TOO_LONG = re.compile(
    r"context length|context size|context_length_exceeded|exceed_context_size|maximum context|"
    r"too many tokens|prompt is too long",
    re.IGNORECASE,
)
TOKENS_PER_WORD = 1.6  # spoken English with speaker labels and punctuation, generously
ANSWER_SHARE = 0.25  # of the context kept for the answer
MAX_ANSWER_TOKENS = 4096
MIN_CHUNK_WORDS = 80
OLLAMA_DEFAULT_NUM_CTX = 4096  # what Ollama allocates unless the Modelfile sets num_ctx
PROBE_TIMEOUT = 5.0
_WORDS = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Tokens a request will cost, erring high (words and marks, plus a margin)."""
    return sum(int(len(_WORDS.findall(m["content"])) * 1.15) + 4 for m in messages)


def context_from_metadata(
    models: Any, props: Any, show: Any, model: str
) -> tuple[int | None, str | None]:
    """The context length the server will really give `model`, and where it was read.

    llama.cpp's `/props` n_ctx (the allocated context) beats `/v1/models` n_ctx_train (the
    model's training length); Ollama's Modelfile num_ctx (else its default) bounded by the
    model's context_length; vLLM's max_model_len.
    """
    if isinstance(props, Mapping):
        settings = props.get("default_generation_settings")
        if isinstance(settings, Mapping) and isinstance(settings.get("n_ctx"), int):
            return settings["n_ctx"], "/props"
    if isinstance(show, Mapping) and isinstance(show.get("model_info"), Mapping):
        trained = next(
            (v for k, v in show["model_info"].items() if k.endswith(".context_length")), None
        )
        found = re.search(r"\bnum_ctx\s+(\d+)", str(show.get("parameters") or ""))
        num_ctx = int(found.group(1)) if found else OLLAMA_DEFAULT_NUM_CTX
        if isinstance(trained, int):
            num_ctx = min(num_ctx, trained)
        return num_ctx, "/api/show"
    data = models.get("data") if isinstance(models, Mapping) else None
    items = [m for m in data if isinstance(m, Mapping)] if isinstance(data, list) else []
    item = next((m for m in items if m.get("id") == model), items[0] if items else None)
    if item is not None:
        for key in ("max_model_len", "context_length", "context_window", "max_context_length"):
            if isinstance(item.get(key), int):
                return item[key], "/models"
        meta = item.get("meta")
        if isinstance(meta, Mapping) and isinstance(meta.get("n_ctx_train"), int):
            return meta["n_ctx_train"], "/models"
    return None, None


class OpenAIEngine:
    """Extraction and drafting through the official `openai` client.

    `fallback` answers when the server fails; by default it is the offline rules engine.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        model: str,
        timeout: float = 60,
        max_retries: int = 2,
        chunk_words: int = 2500,
        overlap_utterances: int = 6,
        fallback: ExtractionEngine | None = None,
        prompts_dir: Path | None = None,
        temperature: float | None = None,
        api_version: str | None = None,
        context_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.chunk_words = chunk_words
        self.overlap_utterances = overlap_utterances
        self.temperature = temperature
        self.prompts_dir = prompts_dir or PROMPTS_DIR
        self.mode = Mode.JSON_SCHEMA  # lowered for good once the server refuses it
        self._fallback = fallback
        self._base_url = base_url
        self._api_key = api_key
        self._azure = api_version is not None
        self._context_tokens = context_tokens
        self._probed = context_tokens is not None
        self._client: openai.OpenAI
        if self._azure:
            if not base_url:
                raise ValueError("Azure OpenAI needs the resource endpoint as its base URL")
            self._client = openai.AzureOpenAI(
                azure_endpoint=base_url,
                azure_deployment=model,
                api_version=api_version,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
            )
        else:
            self._client = openai.OpenAI(
                base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
            )

    # what the server can do

    @property
    def context_tokens(self) -> int | None:
        """The model's context length: configured, or asked of the server once."""
        if not self._probed:
            self._probed = True
            self._context_tokens = self._probe_context()
        return self._context_tokens

    def _probe_context(self) -> int | None:
        if self._azure or not self._base_url:
            return None  # OpenAI and Azure publish no context length; LLM_CONTEXT_TOKENS can
        base = self._base_url.rstrip("/")
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        headers = {"Authorization": f"Bearer {self._api_key}"}
        with httpx.Client(timeout=min(self.timeout, PROBE_TIMEOUT), headers=headers) as http:
            models = _get_json(http, "GET", f"{base}/models")
            props = _get_json(http, "GET", f"{root}/props")
            show = None if props else _get_json(http, "POST", f"{root}/api/show", self.model)
        tokens, source = context_from_metadata(models, props, show, self.model)
        if tokens:
            logger.info("LLM context: %d tokens (from %s)", tokens, source)
        return tokens

    def _budget(self, prompt: Mapping[str, str], context: CallContext) -> tuple[int, int | None]:
        """(words per chunk, max answer tokens) that fit the model's context."""
        window = self.context_tokens
        if not window:
            return self.chunk_words, None
        answer = min(MAX_ANSWER_TOKENS, max(256, int(window * ANSWER_SHARE)))
        empty = Chunk(0, ())
        frame = render_extraction_messages(prompt, empty, 1, 1, context)
        overhead = estimate_tokens(messages_for(Mode.PLAIN, frame))
        words = int((window - overhead - answer) / TOKENS_PER_WORD)
        return max(MIN_CHUNK_WORDS, min(self.chunk_words, words)), answer

    # extraction

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult:
        """Commitments in `utterances`; the rules engine's answer, flagged, if the server fails."""
        if not utterances:
            return ExtractionResult(engine=self.name, commitments=[])
        prompt = load_prompt("extract_commitments", self.prompts_dir)
        speakers = speakers_of(utterances)
        try:
            words, answer_tokens = self._budget(prompt, context)
        except _Failure as failure:
            return self._fall_back(utterances, context, failure.reason)
        for _ in range(4):  # "too long": size to the context the server named, else halve
            chunks = chunk_utterances(utterances, words, self.overlap_utterances)
            try:
                found = self._extract_chunks(chunks, prompt, speakers, context, answer_tokens)
                break
            except _TooLong as failure:
                if failure.limit and failure.limit != self._context_tokens:
                    self._context_tokens = failure.limit
                    words, answer_tokens = self._budget(prompt, context)
                elif words > MIN_CHUNK_WORDS:
                    words = max(MIN_CHUNK_WORDS, words // 2)
                    answer_tokens = answer_tokens // 2 if answer_tokens else None
                else:
                    return self._fall_back(utterances, context, failure.reason)
                logger.info("openai request too long for the model; chunks of %d words", words)
            except _Failure as failure:
                logger.warning("openai extraction failed, using the fallback: %s", failure.reason)
                return self._fall_back(utterances, context, failure.reason)
        else:
            return self._fall_back(utterances, context, "the transcript never fit the model")
        commitments = merge_commitments(found)
        logger.info(
            "openai extraction: %d utterances, %d request(s), %d commitments, mode %s",
            len(utterances),
            len(chunks),
            len(commitments),
            self.mode,
        )
        return ExtractionResult(engine=self.name, commitments=commitments)

    def _extract_chunks(
        self,
        chunks: list[Chunk],
        prompt: Mapping[str, str],
        speakers: Sequence[str],
        context: CallContext,
        answer_tokens: int | None,
    ) -> list[Commitment]:
        found: list[Commitment] = []
        for part, chunk in enumerate(chunks, start=1):
            messages = render_extraction_messages(prompt, chunk, part, len(chunks), context)
            items = self._answer_with_repair(messages, prompt["repair"], answer_tokens)
            found.extend(check_items(items, chunk, speakers, context))
        return found

    def _structured(self, messages: list[dict[str, str]], answer_tokens: int | None) -> str | None:
        """One answer, asked for in the strictest shape the server accepts."""
        while True:
            try:
                return self._complete(
                    messages_for(self.mode, messages),
                    response_format_for(self.mode),
                    max_tokens=answer_tokens,
                )
            except _Unsupported as refused:
                lower = MODES.index(self.mode) + 1
                if lower >= len(MODES):
                    raise
                logger.info(
                    "LLM server refused %s output (%s); trying %s",
                    self.mode,
                    refused.reason,
                    MODES[lower],
                )
                self.mode = MODES[lower]

    def _answer_with_repair(
        self, messages: list[dict[str, str]], repair: str, answer_tokens: int | None = None
    ) -> list[RawCommitment]:
        content = self._structured(messages, answer_tokens)
        try:
            return parse_answer(content)
        except InvalidAnswer as error:
            logger.info("openai answer was invalid, asking for one repair: %s", error)
            retry = [
                *messages,
                {"role": "assistant", "content": content or ""},
                {"role": "user", "content": fill(repair, error=str(error))},
            ]
        content = self._structured(retry, answer_tokens)
        try:
            return parse_answer(content)
        except InvalidAnswer as error:
            raise _Failure(f"the model's answer was invalid even after a repair: {error}") from None

    def _fall_back(
        self, utterances: list[Utterance], context: CallContext, reason: str
    ) -> ExtractionResult:
        try:
            engine = self._fallback
            if engine is None:
                from bot.llm.rules import RulesEngine

                engine = RulesEngine()
            result = engine.extract(utterances, context)
        except Exception as error:  # the last resort failed too: say so, don't crash the job
            raise LLMError(f"{reason}; the rules engine failed too") from error
        return ExtractionResult(
            engine=result.engine, commitments=result.commitments, fallback_reason=reason
        )

    # drafting

    def draft_step(
        self,
        template: str,
        facts: Mapping[str, Any],
        step: Mapping[str, Any],
        max_chars: int = 2500,
    ) -> str:
        """A case-specific message for one playbook step, or `LLMError` (use the rules draft).

        A draft that is too long gets one request for a shorter one, then is cut at a sentence
        end; one that is empty or has unfilled placeholders gets one retry, then `LLMError`.
        """
        prompt = load_prompt("draft_step", self.prompts_dir)
        messages = [
            {"role": "system", "content": fill(prompt["system"], max_chars=max_chars)},
            {
                "role": "user",
                "content": fill(
                    prompt["user"],
                    step=_as_data(dict(step)),
                    template=_as_data(template),
                    facts=_as_data(dict(facts)),
                    max_chars=max_chars,
                ),
            },
        ]
        draft = self._draft(messages)
        problems = draft_problems(draft, max_chars)
        if problems:
            messages += [
                {"role": "assistant", "content": draft},
                {"role": "user", "content": fill(prompt["retry"], problems="; ".join(problems))},
            ]
            draft = self._draft(messages)
        if not draft:
            raise LLMError("The drafted message was empty.")
        leftovers = find_placeholders(draft)
        if leftovers:
            raise LLMError(f"The drafted message still had placeholders: {', '.join(leftovers)}")
        return truncate_at_sentence(draft, max_chars)

    def _draft(self, messages: list[dict[str, str]]) -> str:
        try:
            return clean_draft(self._complete(messages, None))
        except _Failure as failure:
            raise LLMError(f"Could not draft the message: {failure.reason}") from None

    # transport

    def _complete(
        self,
        messages: list[dict[str, str]],
        response_format: dict[str, Any] | None,
        max_tokens: int | None = None,
    ) -> str | None:
        """The content of the model's reply; every way the server can fail becomes `_Failure`."""
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if response_format is not None:
            request["response_format"] = response_format
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        mode = (response_format or {}).get("type", "plain")
        started = time.monotonic()
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APITimeoutError:
            _log_call(self.model, mode, started, "timeout")
            raise _Failure(f"the LLM server did not answer within {self.timeout:g} s") from None
        except openai.APIConnectionError:
            _log_call(self.model, mode, started, "unreachable")
            raise _Failure("could not reach the LLM server") from None
        except openai.APIStatusError as error:
            _log_call(self.model, mode, started, f"HTTP {error.status_code}")
            raise _status_failure(error) from None
        except openai.OpenAIError as error:
            _log_call(self.model, mode, started, type(error).__name__)
            raise _Failure(f"the LLM call failed ({type(error).__name__})") from None
        _log_call(self.model, mode, started, "ok", getattr(response, "usage", None))
        if not response.choices:
            raise _Failure("the LLM server sent no answer")
        message = response.choices[0].message
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise _Failure("the model refused to answer")  # its words may quote the call
        return message.content


def _error_text(error: openai.APIStatusError) -> str:
    """The server's own error message (vLLM, llama.cpp, Ollama and Azure word it differently);
    it describes the request, never the transcript, so it may be logged."""
    body = error.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            code = inner.get("code") if isinstance(inner.get("code"), str) else inner.get("type")
            message = str(inner.get("message") or "")
            return f"{code}: {message}" if code else message
        return str(inner)
    return str(body or "")


def _context_named(error: openai.APIStatusError, said: str) -> int | None:
    """The context length a refusal names: vLLM/OpenAI/Azure in words, llama.cpp as n_ctx."""
    found = re.search(r"maximum context length is (\d+)", said)
    if found:
        return int(found.group(1))
    body = error.body
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    if isinstance(inner, Mapping) and isinstance(inner.get("n_ctx"), int):
        return inner["n_ctx"]
    return None


def _status_failure(error: openai.APIStatusError) -> _Failure:
    said = _error_text(error)
    if error.status_code in (400, 413, 422) and _TOO_LONG.search(said):
        return _TooLong(
            f"the request was too long for the model (HTTP {error.status_code})",
            _context_named(error, said),
        )
    if error.status_code in (400, 422) and _UNSUPPORTED.search(said):
        return _Unsupported(f"HTTP {error.status_code}: {said[:200]}")
    if error.status_code == 404 and said:
        return _Failure(f"the LLM server answered HTTP 404 ({said[:200]})")
    return _Failure(f"the LLM server answered HTTP {error.status_code}")


def _log_call(model: str, mode: str, started: float, outcome: str, usage: Any = None) -> None:
    """One INFO line per call: tokens and latency, never the prompt or the answer."""
    logger.info(
        "llm call model=%s mode=%s outcome=%s prompt_tokens=%s completion_tokens=%s latency_ms=%d",
        model,
        mode,
        outcome,
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        (time.monotonic() - started) * 1000,
    )


def _get_json(http: httpx.Client, method: str, url: str, model: str | None = None) -> Any:
    """A metadata endpoint's JSON, or None when the server has no such endpoint."""
    try:
        if method == "POST":
            response = http.post(url, json={"model": model})
        else:
            response = http.get(url)
        if response.status_code != 200:
            return None
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


def draft_problems(draft: str, max_chars: int) -> list[str]:
    """What keeps a draft from being shown, in words the model can act on."""
    problems = []
    if not draft:
        problems.append("it is empty")
    leftovers = find_placeholders(draft)
    if leftovers:
        problems.append(
            "it has unfilled placeholders "
            + ", ".join(leftovers)
            + " (use the facts, or rephrase so they are not needed)"
        )
    if len(draft) > max_chars:
        problems.append(f"it is {len(draft)} characters long; the limit is {max_chars}")
    return problems
