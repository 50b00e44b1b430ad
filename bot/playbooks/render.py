"""Pure text work on playbook messages: fill placeholders, spot leftovers, bound length.

No I/O and no Slack here: the case planner passes a mapping of facts, gets text back, and
shows the human what was missing, so nothing leaves with a `{placeholder}` in it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bot.playbooks.placeholders import empty_text, missing_text

SLACK_SECTION_LIMIT = 3000

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_TOKEN = re.compile(r"\{\{|\}\}|\{\s*(" + _NAME + r")\s*\}")
_MISSING = object()


@dataclass(frozen=True)
class RenderResult:
    """The filled text and the placeholder names that had no value (in order of appearance)."""

    text: str
    missing: list[str] = field(default_factory=list)


def find_placeholders(text: str) -> set[str]:
    """Names of the `{placeholders}` in a template; `{{` and `}}` are literal braces."""
    return {m.group(1) for m in _TOKEN.finditer(text) if m.group(1)}


def placeholder_spans(text: str) -> list[tuple[str, int]]:
    """Each placeholder name with its character offset, in order (for line-precise errors)."""
    return [(m.group(1), m.start()) for m in _TOKEN.finditer(text) if m.group(1)]


def stray_braces(text: str) -> list[int]:
    """Offsets of `{` or `}` that are neither a placeholder nor an escaped literal brace."""
    covered = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    stray: list[int] = []
    for i, ch in enumerate(text):
        if ch in "{}" and not any(start <= i < end for start, end in covered):
            stray.append(i)
    return stray


def lookup(facts: Mapping[str, object], name: str) -> object:
    """Find a dotted fact either as a flat key ("account.name") or by walking nested
    mappings / attributes (facts["account"].name). Returns `None` when absent."""
    if name in facts:
        return facts[name]
    head, *rest = name.split(".")
    value: object = facts.get(head)
    for part in rest:
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            value = getattr(value, part, None)
    return value


def format_value(name: str, value: object) -> str | None:
    """Human text for one fact, or None when the fact counts as unknown."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value:%B} {value.day}, {value.year}"
    if isinstance(value, int | float | Decimal):
        if name.rsplit(".", 1)[-1] == "arr":
            return f"${value:,.0f}"
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        items = [text for item in value if (text := format_value(name, item))]
        if not items:
            return empty_text(name)
        return "\n".join(f"• {item}" for item in items)
    return str(value)


def render_message(template: str, facts: Mapping[str, object]) -> RenderResult:
    """Fill every `{name}` from `facts`; unknown facts get a readable stand-in such as
    "(renewal date unknown)" and are listed in `missing`, so the output never holds a
    `{placeholder}`. `{{` / `}}` become literal braces."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        token, name = match.group(0), match.group(1)
        if name is None:
            return token[0]
        text = format_value(name, lookup(facts, name))
        if text is None:
            if name not in missing:
                missing.append(name)
            return missing_text(name)
        return text

    return RenderResult(text=_TOKEN.sub(fill, template), missing=missing)


_CURLY = re.compile(r"\{\{?[^{}\n]{1,60}\}?\}")
_SQUARE = re.compile(r"\[([^\[\]\n]{1,40})\](?!\()")
_ANGLE = re.compile(r"<([^<>\s](?:[^<>\n]{0,38}[^<>\s])?)>")  # "a < b and c > d" is no tag
_XS = re.compile(r"\$?\bX{2,}(?:[,.]X+)*\b")
_KEYWORDS = re.compile(
    r"\b(name|insert|date|company|customer|contact|email|title|your|link|time|amount|"
    r"number|placeholder|recipient|account|tbd|xx+)\b",
    re.IGNORECASE,
)
_HTML_TAGS = {
    "b",
    "i",
    "u",
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "div",
    "span",
    "li",
    "ul",
    "ol",
    "hr",
    "s",
    "a",
    "br/",
}


def _square_is_placeholder(inner: str) -> bool:
    words = inner.strip().split()
    if not words or inner.strip().lower() in {"x", "sic", "..."} or inner.strip().isdigit():
        return False
    if _KEYWORDS.search(inner):
        return True
    return all(w[:1].isupper() for w in words if w[:1].isalpha()) and any(
        w[:1].isalpha() for w in words
    )


def _angle_is_placeholder(inner: str) -> bool:
    stripped = inner.strip()
    if not stripped or stripped[0] in "@#!/" or "://" in stripped or "|" in stripped:
        return False
    if stripped.startswith("mailto:") or "@" in stripped or stripped.lower() in _HTML_TAGS:
        return False
    if not any(ch.isalpha() for ch in stripped):
        return False  # "<3", "< 5 >": not a placeholder
    return not re.search(r"[=\"']", stripped)  # attributes: an HTML tag, not a placeholder


def unfilled_placeholders(text: str) -> list[str]:
    """Placeholder-looking leftovers in a draft (typically an LLM's): `{anything}`,
    `[Customer Name]`, `<first name>`, `$XX,XXX`. Slack links and mentions (`<@U1>`,
    `<https://x|label>`), Markdown links and `[1]` footnotes are not flagged."""
    found: list[tuple[int, str]] = [(m.start(), m.group(0)) for m in _CURLY.finditer(text)]
    found += [
        (m.start(), m.group(0))
        for m in _SQUARE.finditer(text)
        if _square_is_placeholder(m.group(1))
    ]
    found += [
        (m.start(), m.group(0)) for m in _ANGLE.finditer(text) if _angle_is_placeholder(m.group(1))
    ]
    found += [(m.start(), m.group(0)) for m in _XS.finditer(text)]
    result: list[str] = []
    for _, token in sorted(found):
        if token not in result:
            result.append(token)
    return result


_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*(?=\s)|\n")


def truncate_at_sentence(text: str, limit: int = SLACK_SECTION_LIMIT, ellipsis: str = "…") -> str:
    """Bound `text` to `limit` characters, cutting after the last whole sentence (or line)
    that fits; if none ends in the second half of the budget, cut at a word and add an
    ellipsis. Text already within the limit is returned unchanged."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(text[: limit + 1]) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]].rstrip()
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ellipsis
