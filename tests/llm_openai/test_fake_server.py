"""The fake server speaks OpenAI's wire shapes (checked with plain httpx)."""

from __future__ import annotations

import httpx

from bot.devtools.fake_openai import FakeOpenAIServer, Refusal, Status

AUTH = {"Authorization": "Bearer test-key"}


def chat(server: FakeOpenAIServer, **body) -> httpx.Response:
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(f"{server.base_url}/chat/completions", json=payload, headers=AUTH)


def test_completion_shape(server):
    server.script(["hello"])
    data = chat(server).json()
    assert data["object"] == "chat.completion" and data["model"] == "m"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    [choice] = data["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "hello", "refusal": None}
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_models_and_auth(server):
    models = httpx.get(f"{server.base_url}/models", headers=AUTH).json()
    assert models["object"] == "list" and models["data"][0]["id"] == "fake-model"
    denied = httpx.get(f"{server.base_url}/models")
    assert denied.status_code == 401 and "error" in denied.json()


def test_faults_and_callables(server):
    server.script([Status(429, retry_after=2), Refusal("no"), lambda body: body["model"]])
    limited = chat(server)
    assert limited.status_code == 429 and limited.headers["retry-after-ms"] == "2000"
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"
    refused = chat(server).json()["choices"][0]["message"]
    assert refused["content"] is None and refused["refusal"] == "no"
    assert chat(server, model="echo-me").json()["choices"][0]["message"]["content"] == "echo-me"
    assert server.pending == 0 and len(server.chat_requests) == 3


def test_default_answers(server):
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    structured = chat(server, response_format=schema).json()
    assert structured["choices"][0]["message"]["content"] == '{"commitments": []}'
    plain = chat(server).json()["choices"][0]["message"]["content"]
    assert plain and "{" not in plain
    assert httpx.post(f"{server.base_url}/nope", json={}, headers=AUTH).status_code == 404
