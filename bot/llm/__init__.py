"""The LLM step behind one interface: pick the engine the settings ask for.

`rules` (offline, deterministic) is the default; `openai` talks to any OpenAI-compatible
server and falls back to `rules` (flagged) when that server fails.
"""

from __future__ import annotations

from bot.config import ConfigError, Engine, Settings
from bot.llm.base import ExtractionEngine

__all__ = ["get_engine"]


def get_engine(settings: Settings, name: str | None = None) -> ExtractionEngine:
    """The extraction engine for `settings` (or the explicitly named one)."""
    chosen = Engine(name) if name else settings.llm_engine
    if chosen == Engine.OPENAI:
        from bot.llm.openai_engine import OpenAIEngine

        key = settings.openai_api_key
        if not key and not settings.openai_base_url:
            raise ConfigError(
                "Configuration error: OPENAI_API_KEY is not set (needed for LLM_ENGINE=openai)"
            )
        return OpenAIEngine(
            settings.openai_base_url,
            key or "not-needed",  # local servers (Ollama, vLLM) accept any key
            settings.llm_model,
            timeout=settings.llm_timeout_seconds,
        )
    from bot.llm.rules import RulesEngine

    return RulesEngine()
