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
        if not key and (not settings.openai_base_url or settings.llm_api_version):
            raise ConfigError(
                "Configuration error: OPENAI_API_KEY is not set (needed for LLM_ENGINE=openai)"
            )
        if settings.llm_api_version and not settings.openai_base_url:
            raise ConfigError(
                "Configuration error: OPENAI_BASE_URL must be the Azure resource endpoint "
                "(https://<resource>.openai.azure.com) when LLM_API_VERSION is set"
            )
        return OpenAIEngine(
            settings.openai_base_url,
            key or "not-needed",  # local servers (Ollama, vLLM) accept any key
            settings.llm_model,
            timeout=settings.llm_timeout_seconds,
            api_version=settings.llm_api_version,
            context_tokens=settings.llm_context_tokens,
        )
    from bot.llm.rules import RulesEngine

    return RulesEngine()
