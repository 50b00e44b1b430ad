"""Four servers, each as its documentation describes it.

- **Ollama** (`/v1/*` OpenAI compatibility plus its native `/api/show`, `/api/tags`,
  `/api/version`). `response_format: json_object` is JSON mode; `json_schema` is honoured from
  v0.5 (structured outputs) and ignored before. The context is the server's `num_ctx` (default
  4096, or the Modelfile's `num_ctx`); a longer prompt is silently truncated from the start —
  no error. `/api/show` tells `model_info["<arch>.context_length"]` and the Modelfile
  `parameters`. Errors: `{"error": {"message", "type", "param", "code"}}` on `/v1`,
  `{"error": "..."}` on `/api`.
- **vLLM** (OpenAI-compatible server). `/v1/models` carries `max_model_len`; guided decoding
  serves `json_schema` and `json_object`. A prompt plus `max_tokens` over `max_model_len` is a
  400: "This model's maximum context length is N tokens. However, you requested M tokens (…)".
  Errors: `{"object": "error", "message", "type", "param", "code"}`.
- **llama.cpp's `llama-server`**. `/props` → `default_generation_settings.n_ctx` (the context
  actually allocated), `/v1/models` → `data[].meta.n_ctx_train`, `/health`. `json_object`
  always; `json_schema` in newer builds, older ones answer 400 "response_format type must be
  one of \\"text\\" or \\"json_object\\"". Over the context: 400 `exceed_context_size_error` with
  `n_prompt_tokens` and `n_ctx`. The `model` field is ignored.
- **Azure OpenAI**. `POST /openai/deployments/{deployment}/chat/completions?api-version=…`
  with an `api-key` header; no api-version → 404 "Resource not found"; an unknown deployment
  → 404 `DeploymentNotFound`; a wrong key → 401; `json_schema` before api-version
  2024-08-01-preview → 400 "response_format value as json_schema is enabled only for api
  versions 2024-08-01-preview and later"; answers carry `prompt_filter_results`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from bot.devtools.llm_servers.base import Answer, StandInServer, count_tokens, prompt_tokens


def _format_type(body: dict[str, Any]) -> str:
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return "text"
    return str(response_format.get("type") or "text")


class OllamaServer(StandInServer):
    model = "llama3.1:8b"

    def __init__(
        self,
        *,
        version: str = "0.5.7",
        num_ctx: int | None = None,
        context_length: int = 131072,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.modelfile_num_ctx = num_ctx
        self.context_length = context_length
        self.truncated = 0  # prompts cut to fit num_ctx, silently, as Ollama does

    @property
    def num_ctx(self) -> int:
        return self.modelfile_num_ctx or 4096

    @property
    def structured_outputs(self) -> bool:
        major, minor, *_ = (int(p) for p in re.findall(r"\d+", self.version) + ["0", "0"])
        return (major, minor) >= (0, 5)

    def route(self, method, path, query, headers, body) -> Answer:
        if method == "GET" and path == "/api/version":
            return Answer(200, {"version": self.version})
        if method == "GET" and path == "/api/tags":
            return Answer(200, {"models": [{"name": self.model, "model": self.model}]})
        if method == "POST" and path == "/api/show":
            if body.get("model") not in (self.model, None) and body.get("name") != self.model:
                return Answer(404, {"error": f"model '{body.get('model')}' not found"})
            parameters = f"num_ctx {self.modelfile_num_ctx}\n" if self.modelfile_num_ctx else ""
            return Answer(
                200,
                {
                    "modelfile": f"FROM {self.model}\n",
                    "parameters": parameters + 'stop "<|eot_id|>"',
                    "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B"},
                    "model_info": {
                        "general.architecture": "llama",
                        "llama.context_length": self.context_length,
                    },
                },
            )
        if method == "GET" and path == "/v1/models":
            item = {"id": self.model, "object": "model", "created": 0, "owned_by": "library"}
            return Answer(200, {"object": "list", "data": [item]})
        if method == "POST" and path == "/v1/chat/completions":
            if body.get("model") != self.model:
                message = f'model "{body.get("model")}" not found, try pulling it first'
                return Answer(404, self._v1_error(message, "api_error"))
            if body.get("__invalid__") or not isinstance(body.get("messages"), list):
                return Answer(400, self._v1_error("invalid request body", "invalid_request_error"))
            seen = dict(body)
            if _format_type(body) == "json_schema" and not self.structured_outputs:
                seen.pop("response_format")  # before v0.5 only json_object meant anything
            return self.chat(self._truncated(seen))
        return Answer(404, "404 page not found")

    def _truncated(self, body: dict[str, Any]) -> dict[str, Any]:
        """Keep the end of the prompt that fits num_ctx (Ollama cuts the start, no error)."""
        budget = self.num_ctx - 256
        if prompt_tokens(body) <= budget:
            return body
        self.truncated += 1
        messages = [dict(m) for m in body["messages"]]
        for m in messages:
            words = str(m.get("content") or "").split(" ")
            while words and prompt_tokens({"messages": messages}) > budget:
                words = words[len(words) // 10 + 1 :]
                m["content"] = " ".join(words)
        return {**body, "messages": messages}

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return self._v1_error(message, "api_error")

    @staticmethod
    def _v1_error(message: str, kind: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class VLLMServer(StandInServer):
    model = "meta-llama/Llama-3.1-8B-Instruct"

    def __init__(
        self,
        *,
        max_model_len: int = 8192,
        response_formats: tuple[str, ...] = ("text", "json_object", "json_schema"),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_model_len = max_model_len
        self.response_formats = response_formats

    def route(self, method, path, query, headers, body) -> Answer:
        if method == "GET" and path == "/v1/models":
            item = {
                "id": self.model,
                "object": "model",
                "created": int(time.time()),
                "owned_by": "vllm",
                "root": self.model,
                "parent": None,
                "max_model_len": self.max_model_len,
            }
            return Answer(200, {"object": "list", "data": [item]})
        if method == "GET" and path == "/health":
            return Answer(200, "")
        if method == "POST" and path == "/v1/chat/completions":
            if body.get("model") != self.model:
                return Answer(
                    404,
                    self.error(
                        f"The model `{body.get('model')}` does not exist.", "NotFoundError", 404
                    ),
                )
            kind = _format_type(body)
            if kind not in self.response_formats:
                return Answer(
                    400, self.error(f"Unknown response_format type: {kind}", "BadRequestError", 400)
                )
            prompt = prompt_tokens(body)
            completion = int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
            if prompt + completion > self.max_model_len or prompt >= self.max_model_len:
                message = (
                    f"This model's maximum context length is {self.max_model_len} tokens. However, "
                    f"you requested {prompt + completion} tokens ({prompt} in the messages, "
                    f"{completion} in the completion). Please reduce the length of the messages "
                    "or completion."
                )
                return Answer(400, self.error(message, "BadRequestError", 400))
            return self.chat(body)
        return Answer(404, {"detail": "Not Found"})

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return self.error(
            message, "InternalServerError" if status >= 500 else "BadRequestError", status
        )

    @staticmethod
    def error(message: str, kind: str, code: int) -> dict[str, Any]:
        return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


class LlamaCppServer(StandInServer):
    model = "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"

    def __init__(
        self,
        *,
        n_ctx: int = 4096,
        n_ctx_train: int = 131072,
        json_schema: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_ctx = n_ctx
        self.n_ctx_train = n_ctx_train
        self.json_schema = json_schema

    def route(self, method, path, query, headers, body) -> Answer:
        if method == "GET" and path == "/health":
            return Answer(200, {"status": "ok"})
        if method == "GET" and path == "/props":
            return Answer(
                200,
                {
                    "default_generation_settings": {
                        "n_ctx": self.n_ctx,
                        "params": {"n_predict": -1},
                    },
                    "total_slots": 1,
                    "model_path": f"/models/{self.model}",
                    "build_info": "b4689-90e4dba4",
                },
            )
        if method == "GET" and path in ("/v1/models", "/models"):
            meta = {
                "vocab_type": 2,
                "n_vocab": 128256,
                "n_ctx_train": self.n_ctx_train,
                "n_embd": 4096,
            }
            item = {
                "id": self.model,
                "object": "model",
                "created": int(time.time()),
                "owned_by": "llamacpp",
                "meta": meta,
            }
            return Answer(200, {"object": "list", "data": [item]})
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            kind = _format_type(body)
            if (
                kind == "json_schema"
                and not self.json_schema
                or kind not in ("text", "json_object", "json_schema")
            ):
                message = (
                    f'response_format type must be one of "text" or "json_object", but got: {kind}'
                )
                return Answer(400, self.error(400, message, "invalid_request_error"))
            prompt = prompt_tokens(body)
            if prompt > self.n_ctx:
                error = self.error(
                    400,
                    "the request exceeds the available context size, try increasing it",
                    "exceed_context_size_error",
                )
                error["error"].update({"n_prompt_tokens": prompt, "n_ctx": self.n_ctx})
                return Answer(400, error)
            return self.chat(body)
        return Answer(404, self.error(404, "File Not Found", "not_found_error"))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return self.error(
            status, message, "server_error" if status >= 500 else "invalid_request_error"
        )

    @staticmethod
    def error(code: int, message: str, kind: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message, "type": kind}}


_AZURE_VERSIONS = (
    "2023-05-15",
    "2023-12-01-preview",
    "2024-02-01",
    "2024-06-01",
    "2024-08-01-preview",
    "2024-10-21",
    "2025-01-01-preview",
)


class AzureOpenAIServer(StandInServer):
    model = "gpt-4o-mini"

    def __init__(
        self, *, api_key: str = "azure-key", context_tokens: int = 128000, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.context_tokens = context_tokens

    @property
    def base_url(self) -> str:
        """The resource endpoint (https://<resource>.openai.azure.com): AZURE's OPENAI_BASE_URL."""
        return self.root

    def route(self, method, path, query, headers, body) -> Answer:
        match = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        if (
            headers.get("api-key") != self.api_key
            and headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return Answer(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API "
                        "endpoint. Make sure to provide a valid key for an active subscription "
                        "and use a correct regional API endpoint for your resource.",
                    }
                },
            )
        version = query.get("api-version")
        if match is None or method != "POST" or version not in _AZURE_VERSIONS:
            return Answer(404, {"error": {"code": "404", "message": "Resource not found"}})
        if match.group(1) != self.model:
            return Answer(
                404,
                {
                    "error": {
                        "code": "DeploymentNotFound",
                        "message": "The API deployment for this resource does not exist. If you "
                        "created the deployment within the last 5 minutes, please wait a moment "
                        "and try again.",
                    }
                },
            )
        kind = _format_type(body)
        if kind == "json_schema" and version[:10] < "2024-08-01":
            return Answer(
                400,
                self.error(
                    "response_format value as json_schema is enabled only for api versions "
                    "2024-08-01-preview and later",
                    "response_format",
                    "BadRequest",
                ),
            )
        if kind == "json_object" and version[:10] < "2023-12-01":
            return Answer(
                400,
                self.error("Unrecognized request argument supplied: response_format", None, None),
            )
        prompt = prompt_tokens(body)
        if prompt > self.context_tokens:
            message = (
                f"This model's maximum context length is {self.context_tokens} tokens. However, "
                f"your messages resulted in {prompt} tokens. Please reduce the length of the "
                "messages."
            )
            return Answer(400, self.error(message, "messages", "context_length_exceeded"))
        filters = {"hate": {"filtered": False, "severity": "safe"}}
        extra = {"prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filters}]}
        return self.chat(body, extra)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        code = "429" if status == 429 else "InternalServerError"
        return {"error": {"code": code, "message": message}}

    @staticmethod
    def error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


__all__ = ["AzureOpenAIServer", "LlamaCppServer", "OllamaServer", "VLLMServer", "count_tokens"]
