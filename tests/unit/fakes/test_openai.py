"""The OpenAI fake answers like OpenAI: URL shapes, bodies, usage, auth and error shapes."""

from __future__ import annotations

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Draw one card for me"}]}


def test_openai_chat_completion_has_the_real_shape_and_usage(openai_http: httpx.Client) -> None:
    response = openai_http.post("/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": FakeOpenAI.DEFAULT_REPLY, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = body["usage"]
    # 3 priming + (4 per message + len("Draw one card for me")=20 chars / 4 = 5), reply 91 chars -> 23
    assert usage == {
        "prompt_tokens": 12,
        "completion_tokens": 23,
        "total_tokens": 35,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def test_openai_reports_a_cached_prompt_prefix_in_whole_blocks(fake_openai: FakeOpenAI) -> None:
    with FakeOpenAI(prompt_caching=True) as caching:
        headers = {"Authorization": f"Bearer {caching.api_key}"}
        long_prompt = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 4400}]}
        with httpx.Client(base_url=f"{caching.base_url}/v1", headers=headers, timeout=10) as client:
            usage = client.post("/chat/completions", json=long_prompt).json()["usage"]
            short = client.post("/chat/completions", json=CHAT).json()["usage"]
    assert usage["prompt_tokens"] == 3 + 4 + 1100
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1024  # 8 blocks of 128
    assert short["prompt_tokens_details"]["cached_tokens"] == 0  # below 1024 tokens: never cached


def test_openai_max_tokens_truncates_with_finish_reason_length(openai_http: httpx.Client) -> None:
    body = openai_http.post("/chat/completions", json={**CHAT, "max_tokens": 2}).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == FakeOpenAI.DEFAULT_REPLY[:8]
    assert body["usage"]["completion_tokens"] == 2


def test_openai_without_a_key_is_401_in_openais_shape(fake_openai: FakeOpenAI) -> None:
    response = httpx.post(f"{fake_openai.base_url}/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None
    assert error["message"].startswith("You didn't provide an API key.")


def test_openai_wrong_key_is_401_invalid_api_key_without_echoing_it(fake_openai: FakeOpenAI) -> None:
    response = httpx.post(
        f"{fake_openai.base_url}/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": "Bearer sk-wrong-but-real-looking-0123456789"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "0123456789" not in response.text


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (
            {"messages": CHAT["messages"]},
            400,
            {"message": "you must provide a model parameter", "code": None},
        ),
        ({"model": "gpt-4o-mini"}, 400, {"code": "missing_required_parameter", "param": "messages"}),
        ({**CHAT, "model": "gpt-9"}, 404, {"code": "model_not_found", "param": None}),
    ],
)
def test_openai_bad_requests(
    openai_http: httpx.Client, payload: dict[str, object], status: int, expected: dict[str, object]
) -> None:
    response = openai_http.post("/chat/completions", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert {key: error[key] for key in expected} == expected


def test_openai_models(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    listing = openai_http.get("/models").json()
    assert listing["object"] == "list"
    assert [model["id"] for model in listing["data"]] == list(fake_openai.models)
    assert openai_http.get("/models/gpt-4o").json()["owned_by"] == "system"
    assert openai_http.get("/models/nope").status_code == 404


def test_openai_counts_requests_per_route(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    openai_http.post("/chat/completions", json=CHAT)
    openai_http.post("/chat/completions", json=CHAT)
    openai_http.get("/models/gpt-4o")
    openai_http.get("/models/gpt-4.1")
    openai_http.get("/nothing/here")
    assert fake_openai.request_counts() == {
        "POST /v1/chat/completions": 2,
        "GET /v1/models/{model}": 2,
        "GET <unmatched>": 1,
    }
