"""Local stand-ins for the OpenAI-compatible servers CS teams run: Ollama, vLLM, llama.cpp's
server and Azure OpenAI. Each answers on 127.0.0.1 the way its documentation says it does —
its routes, what it does with `response_format`, where it tells the context length, and its
error bodies — so the `openai` engine is tested against their differences, not against ours.

    with VLLMServer(max_model_len=4096) as server:
        engine = OpenAIEngine(server.base_url, "key", server.model)

The reply a stand-in gives is its "model": by default `AnswerLikeAModel` (valid JSON when the
request constrains the output, JSON wrapped in prose when it does not), or scripted replies as
with the fake OpenAI server (`server.script([...])`).
"""

from bot.devtools.llm_servers.base import AnswerLikeAModel, StandInServer
from bot.devtools.llm_servers.dialects import (
    AzureOpenAIServer,
    LlamaCppServer,
    OllamaServer,
    VLLMServer,
)

__all__ = [
    "AnswerLikeAModel",
    "AzureOpenAIServer",
    "LlamaCppServer",
    "OllamaServer",
    "StandInServer",
    "VLLMServer",
]
