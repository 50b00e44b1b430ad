"""Offline, deterministic commitment extraction (the default engine and the LLM's fallback)."""

from bot.llm.rules.engine import RulesEngine

__all__ = ["RulesEngine"]
