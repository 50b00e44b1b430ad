"""The openai engine against stand-ins for the servers CS teams run (bot/devtools/llm_servers):
each refuses, ignores or limits something different, and extraction must still work."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bot.config import Settings
from bot.devtools.llm_servers import AzureOpenAIServer, LlamaCppServer, OllamaServer, VLLMServer
from bot.llm import get_engine
from bot.llm.base import CallContext
from bot.llm.openai_engine import Mode, OpenAIEngine
from bot.transcripts.model import Utterance

CONTEXT = CallContext(
    call_date=dt.date(2025, 3, 5),
    our_speakers=["Dana Reyes"],
    customer_speakers=["Sam Ortiz"],
    account_name="Acme",
)
FILLER = (
    "So, um, the dashboards have been fine this month and the team mostly uses the weekly "
    "summary, which honestly is the one report everybody opens on Monday mornings."
)


def call(turns: int = 6) -> list[Utterance]:
    """A call with two promises at the start and the end, and `turns` of talk between."""
    middle = [Utterance("Sam Ortiz" if i % 2 else "Dana Reyes", FILLER) for i in range(turns)]
    return [
        Utterance("Dana Reyes", "I'll send you the SSO setup guide by Friday."),
        *middle,
        Utterance("Sam Ortiz", "And we will finish the Okta integration next week."),
    ]


def engine_for(server, **options) -> OpenAIEngine:  # type: ignore[no-untyped-def]
    options.setdefault("timeout", 5)
    options.setdefault("max_retries", 0)
    return OpenAIEngine(server.base_url, "key", server.model, **options)


def texts(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.owner for c in result.commitments}


def test_ollama_structured_outputs_and_num_ctx_from_api_show() -> None:
    with OllamaServer(num_ctx=2048) as server:
        engine = engine_for(server)
        result = engine.extract(call(turns=120), CONTEXT)

    assert result.fallback_reason is None and result.engine == "openai"
    assert texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert engine.context_tokens == 2048 and engine.mode is Mode.JSON_SCHEMA
    assert len(server.chat_requests) > 1  # chunked to fit num_ctx …
    assert server.truncated == 0  # … so Ollama never cut a prompt silently


def test_ollama_cuts_prompts_that_do_not_fit_when_the_context_is_misconfigured() -> None:
    with OllamaServer(num_ctx=2048) as server:
        result = engine_for(server, context_tokens=128000).extract(call(turns=120), CONTEXT)

    assert server.truncated > 0  # what sizing the chunks to the real context prevents
    assert "Dana Reyes" not in texts(result)  # the start of the call was lost


def test_older_ollama_ignores_json_schema_and_the_json_is_found_in_prose() -> None:
    with OllamaServer(version="0.3.14") as server:
        engine = engine_for(server)
        result = engine.extract(call(), CONTEXT)

    assert result.fallback_reason is None
    assert texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert len(server.chat_requests) == 1  # found without a repair request


def test_ollama_model_not_pulled_falls_back_with_the_servers_reason() -> None:
    with OllamaServer() as server:
        result = OpenAIEngine(server.base_url, "k", "mistral", max_retries=0).extract(
            call(), CONTEXT
        )

    assert result.engine == "rules"
    assert "404" in (result.fallback_reason or "") and "not found" in result.fallback_reason


def test_vllm_max_model_len_sizes_chunks_and_answer_tokens() -> None:
    with VLLMServer(max_model_len=2048) as server:
        engine = engine_for(server)
        result = engine.extract(call(turns=120), CONTEXT)

    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert engine.context_tokens == 2048
    assert all(r.body["max_tokens"] == 512 for r in server.chat_requests)
    assert len(server.chat_requests) > 1


def test_vllm_context_error_resizes_to_the_length_it_names() -> None:
    with VLLMServer(max_model_len=2048) as server:
        engine = engine_for(server, context_tokens=64000)  # misconfigured
        result = engine.extract(call(turns=120), CONTEXT)

    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert engine.context_tokens == 2048  # read from "maximum context length is 2048 tokens"
    assert len(server.chat_requests) > 2  # the refused request, then chunks that fit


def test_vllm_without_guided_json_schema_falls_back_to_json_object_once() -> None:
    with VLLMServer(response_formats=("text", "json_object")) as server:
        engine = engine_for(server, chunk_words=120)
        result = engine.extract(call(turns=12), CONTEXT)

    kinds = [(r.body.get("response_format") or {}).get("type") for r in server.chat_requests]
    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert kinds[0] == "json_schema" and set(kinds[1:]) == {"json_object"}
    assert engine.mode is Mode.JSON_OBJECT
    assert "JSON schema" in server.chat_requests[1].system  # the schema moved into the prompt


def test_plain_instructions_when_the_server_takes_no_response_format() -> None:
    with VLLMServer(response_formats=("text",)) as server:
        engine = engine_for(server)
        result = engine.extract(call(), CONTEXT)

    assert engine.mode is Mode.PLAIN
    assert "response_format" not in server.chat_requests[-1].body
    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}


def test_llama_cpp_props_n_ctx_wins_over_the_training_length() -> None:
    with LlamaCppServer(n_ctx=2048, n_ctx_train=131072) as server:
        engine = engine_for(server)
        result = engine.extract(call(turns=120), CONTEXT)

    assert engine.context_tokens == 2048
    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}


def test_older_llama_cpp_refuses_json_schema_then_json_object_works() -> None:
    with LlamaCppServer(json_schema=False) as server:
        engine = engine_for(server)
        result = engine.extract(call(), CONTEXT)

    assert engine.mode is Mode.JSON_OBJECT
    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}


def test_llama_cpp_context_exceeded_is_rechunked_to_its_n_ctx() -> None:
    with LlamaCppServer(n_ctx=2048) as server:
        engine = engine_for(server, context_tokens=32000)
        result = engine.extract(call(turns=120), CONTEXT)

    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}
    assert engine.context_tokens == 2048  # the error body's n_ctx


def test_azure_older_api_version_refuses_json_schema_then_json_object_works() -> None:
    with AzureOpenAIServer(api_key="az-key", model="cs-gpt4o") as server:
        engine = OpenAIEngine(
            server.base_url, "az-key", "cs-gpt4o", api_version="2024-02-01", max_retries=0
        )
        result = engine.extract(call(), CONTEXT)

    first, second = server.chat_requests[:2]
    assert first.path == "/openai/deployments/cs-gpt4o/chat/completions?api-version=2024-02-01"
    assert first.headers["api-key"] == "az-key"
    assert (
        engine.mode is Mode.JSON_OBJECT and second.body["response_format"]["type"] == "json_object"
    )
    assert result.fallback_reason is None and texts(result) == {"Dana Reyes", "Sam Ortiz"}


def test_azure_current_api_version_uses_structured_output() -> None:
    with AzureOpenAIServer(api_key="az-key", model="cs-gpt4o") as server:
        engine = OpenAIEngine(
            server.base_url, "az-key", "cs-gpt4o", api_version="2024-10-21", max_retries=0
        )
        result = engine.extract(call(), CONTEXT)

    assert engine.mode is Mode.JSON_SCHEMA and len(server.chat_requests) == 1
    assert result.fallback_reason is None


@pytest.mark.parametrize(
    ("key", "deployment", "expected"),
    [("wrong", "cs-gpt4o", "HTTP 401"), ("az-key", "gpt-5", "DeploymentNotFound")],
)
def test_azure_errors_fall_back_with_a_reason(key: str, deployment: str, expected: str) -> None:
    with AzureOpenAIServer(api_key="az-key", model="cs-gpt4o") as server:
        engine = OpenAIEngine(
            server.base_url, key, deployment, api_version="2024-10-21", max_retries=0
        )
        result = engine.extract(call(), CONTEXT)

    assert result.engine == "rules" and expected in (result.fallback_reason or "")


def test_get_engine_builds_the_azure_client_from_settings() -> None:
    with AzureOpenAIServer(api_key="az-key", model="cs-gpt4o") as server:
        settings = Settings(
            _env_file=None,
            llm_engine="openai",
            openai_api_key="az-key",
            openai_base_url=server.base_url,
            llm_model="cs-gpt4o",
            llm_api_version="2024-10-21",
        )
        result = get_engine(settings).extract(call(), CONTEXT)

    assert result.fallback_reason is None and server.chat_requests


def test_every_call_logs_tokens_and_latency_but_no_transcript(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="bot.llm.openai_engine")
    with VLLMServer(max_model_len=8192) as server:
        engine_for(server).extract(call(), CONTEXT)

    calls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("llm call")]
    assert calls and all("prompt_tokens=" in c and "latency_ms=" in c for c in calls)
    assert "prompt_tokens=None" not in calls[0]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "SSO setup guide" not in logged and "Okta" not in logged
