"""Which engine writes a step's draft, and the checks every draft passes before anyone sees it.

The `rules` draft (the template filled from the facts) is always made first: it is the
answer when the `openai` engine fails or returns something unusable (empty, too long, with
placeholders left), and the step then says so (`fallback_reason`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import Engine, Settings
from bot.playbooks.plan import Draft, draft_step
from bot.playbooks.render import unfilled_placeholders
from bot.playbooks.schema import MAX_MESSAGE_CHARS, StepTemplate

log = logging.getLogger(__name__)
DRAFT_MAX_CHARS = 2500  # leaves room in a 3000-character section for the step's header


@dataclass(frozen=True)
class StepDraft:
    text: str
    subject: str | None = None
    engine: str = "rules"
    missing: list[str] = field(default_factory=list)
    fallback_reason: str | None = None


class StepDrafter(Protocol):
    """Anything with OpenAIEngine.draft_step's shape (the real engine, or a test stub)."""

    def draft_step(
        self, template: str, facts: Mapping[str, Any], step: Mapping[str, Any], max_chars: int = ...
    ) -> str: ...


def draft_problems(text: str | None, max_chars: int = DRAFT_MAX_CHARS) -> list[str]:
    """Why a draft cannot be shown; empty when it is fine."""
    if text is None or not text.strip():
        return ["the draft was empty"]
    problems = []
    if len(text) > max_chars:
        problems.append(f"the draft was {len(text)} characters (limit {max_chars})")
    leftovers = unfilled_placeholders(text)
    if leftovers:
        problems.append("the draft had unfilled placeholders " + ", ".join(leftovers[:3]))
    return problems


def _plain_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Facts as JSON-friendly data for the model (dates as ISO text)."""

    def conv(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [conv(v) for v in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    return {k: conv(v) for k, v in dict(facts).items()}


class Drafter:
    """Writes one step's draft; `engine=None` means the deterministic rules draft only."""

    def __init__(self, engine: StepDrafter | None = None, max_chars: int = DRAFT_MAX_CHARS) -> None:
        self.engine = engine
        self.max_chars = min(max_chars, MAX_MESSAGE_CHARS)

    @property
    def name(self) -> str:
        return "rules" if self.engine is None else "openai"

    def draft(self, step: StepTemplate, facts: Mapping[str, Any]) -> StepDraft:
        rules: Draft = draft_step(step, facts, limit=self.max_chars)
        if self.engine is None:
            return StepDraft(rules.text, rules.subject, "rules", list(rules.missing))
        step_info = {
            "id": step.id,
            "summary": step.summary,
            "medium": str(step.medium),
            "assignee": str(step.assignee),
            "recipient": str(step.recipient) if step.recipient else None,
        }
        try:
            text = self.engine.draft_step(
                step.message, _plain_facts(facts), step_info, self.max_chars
            )
        except Exception as exc:  # noqa: BLE001 — any engine failure means "use the rules draft"
            reason = str(exc) or type(exc).__name__
            log.warning("draft for step %s fell back to rules: %s", step.id, reason)
            return StepDraft(rules.text, rules.subject, "rules", list(rules.missing), reason)
        problems = draft_problems(text, self.max_chars)
        if problems:
            reason = "; ".join(problems)
            log.warning("draft for step %s fell back to rules: %s", step.id, reason)
            return StepDraft(rules.text, rules.subject, "rules", list(rules.missing), reason)
        return StepDraft(text.strip(), rules.subject, "openai", [])


def drafter_for(settings: Settings) -> Drafter:
    """The configured engine: `rules` (offline) or `openai` (any compatible server)."""
    if settings.llm_engine is Engine.OPENAI:
        from bot.llm.openai_engine import OpenAIEngine

        key = settings.openai_api_key or "unused"  # local servers (Ollama, vLLM) need none
        return Drafter(
            OpenAIEngine(
                settings.openai_base_url,
                key,
                settings.llm_model,
                timeout=settings.llm_timeout_seconds,
            )
        )
    return Drafter()
