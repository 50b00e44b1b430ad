"""The `openai` engine: commitments and step drafts from any OpenAI-compatible server.

The model only proposes. Every answer is validated here before anyone sees it: the JSON must
match the schema (one repair request otherwise), every quote must really be in the
transcript, owners must be real speakers and dates real dates. When the server is down, slow,
refuses, or keeps answering nonsense, the offline rules engine answers instead and the result
says so (`fallback_reason`). Transcript text is untrusted: it is fenced in the prompt, look-
alike fence markers are removed from it, and it is never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
        raise InvalidAnswer(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    if isinstance(data, list):
        data = {"commitments": data}
    try:
        return RawAnswer.model_validate(data).commitments
    except ValidationError as error:
        raise InvalidAnswer(f"does not match the schema ({describe(error)})") from None


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
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.chunk_words = chunk_words
        self.overlap_utterances = overlap_utterances
        self.temperature = temperature
        self.prompts_dir = prompts_dir or PROMPTS_DIR
        self._fallback = fallback
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )

    # extraction

    def extract(self, utterances: list[Utterance], context: CallContext) -> ExtractionResult:
        """Commitments in `utterances`; the rules engine's answer, flagged, if the server fails."""
        if not utterances:
            return ExtractionResult(engine=self.name, commitments=[])
        prompt = load_prompt("extract_commitments", self.prompts_dir)
        chunks = chunk_utterances(utterances, self.chunk_words, self.overlap_utterances)
        speakers = speakers_of(utterances)
        found: list[Commitment] = []
        try:
            for part, chunk in enumerate(chunks, start=1):
                messages = render_extraction_messages(prompt, chunk, part, len(chunks), context)
                items = self._answer_with_repair(messages, prompt["repair"])
                found.extend(check_items(items, chunk, speakers, context))
        except _Failure as failure:
            logger.warning("openai extraction failed, using the fallback: %s", failure.reason)
            return self._fall_back(utterances, context, failure.reason)
        commitments = merge_commitments(found)
        logger.info(
            "openai extraction: %d utterances, %d request(s), %d commitments",
            len(utterances),
            len(chunks),
            len(commitments),
        )
        return ExtractionResult(engine=self.name, commitments=commitments)

    def _answer_with_repair(
        self, messages: list[dict[str, str]], repair: str
    ) -> list[RawCommitment]:
        content = self._complete(messages, RESPONSE_FORMAT)
        try:
            return parse_answer(content)
        except InvalidAnswer as error:
            logger.info("openai answer was invalid, asking for one repair: %s", error)
            retry = [
                *messages,
                {"role": "assistant", "content": content or ""},
                {"role": "user", "content": fill(repair, error=str(error))},
            ]
        content = self._complete(retry, RESPONSE_FORMAT)
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
        self, messages: list[dict[str, str]], response_format: dict[str, Any] | None
    ) -> str | None:
        """The content of the model's reply; every way the server can fail becomes `_Failure`."""
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if response_format is not None:
            request["response_format"] = response_format
        if self.temperature is not None:
            request["temperature"] = self.temperature
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APITimeoutError:
            raise _Failure(f"the LLM server did not answer within {self.timeout:g} s") from None
        except openai.APIConnectionError:
            raise _Failure("could not reach the LLM server") from None
        except openai.APIStatusError as error:
            raise _Failure(f"the LLM server answered HTTP {error.status_code}") from None
        except openai.OpenAIError as error:
            raise _Failure(f"the LLM call failed ({type(error).__name__})") from None
        if not response.choices:
            raise _Failure("the LLM server sent no answer")
        message = response.choices[0].message
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise _Failure("the model refused to answer")  # its words may quote the call
        return message.content


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
