"""A fake of OpenAI's REST API: chat completions and models, with OpenAI's error shapes.

Point the client at ``f"{fake.base_url}/v1"`` with ``api_key=fake.api_key``. Usage counts grow
with the text (about four characters a token, OpenAI's rule of thumb), in OpenAI's full ``usage``
shape (token details included); with ``prompt_caching=True`` a prompt of 1024 tokens or more
reports its cached prefix the way OpenAI does (whole blocks of 128 tokens).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import ClassVar

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.server import JSON, FakeServer, bearer_token, request_params
from tarot_monitoring.http_server import Request, Response

__all__ = ["FakeOpenAI"]


_OPENAI_ERRORS: Mapping[int, tuple[str, str, str | None]] = {
    429: ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class FakeOpenAI(FakeServer):
    """OpenAI's REST API: ``POST /v1/chat/completions``, ``GET /v1/models[/{model}]``.

    Point the client at ``f"{fake.base_url}/v1"`` with ``api_key=fake.api_key``.
    """

    service = "openai"
    DEFAULT_MODELS: ClassVar[tuple[str, ...]] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1")
    DEFAULT_REPLY: ClassVar[str] = (
        "The Star, upright: after a hard season, hope returns. Trust the slow work you have begun."
    )

    def __init__(
        self,
        *,
        api_key: str = "sk-fake-openai-key-for-tests",
        models: tuple[str, ...] = DEFAULT_MODELS,
        reply: str = DEFAULT_REPLY,
        prompt_caching: bool = False,
        port: int = 0,
    ) -> None:
        if not api_key.startswith("sk-"):
            raise ValueError("api_key must start with 'sk-' like OpenAI's keys")
        if not models:
            raise ValueError("models must name at least one model")
        super().__init__(port=port)
        self.api_key, self.models, self.reply = api_key, models, reply
        self.prompt_caching = prompt_caching
        self._created = int(time.time())
        self._add_route("POST", "/v1/chat/completions", r"/v1/chat/completions", self._chat_completions)
        self._add_route("GET", "/v1/models", r"/v1/models", self._list_models)
        self._add_route("GET", "/v1/models/{model}", r"/v1/models/(?P<model>[^/]+)", self._get_model)

    @staticmethod
    def _error(
        status: int, message: str, type_: str, *, code: str | None = None, param: str | None = None
    ) -> Response:
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return Response(status, body, (("x-request-id", f"req_{time.time_ns():x}"),))

    def _auth_error(self, request: Request) -> Response | None:
        key = bearer_token(request)
        if key is None:
            return self._error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
            )
        if key != self.api_key:
            return self._error(
                401,
                "Incorrect API key provided: sk-****. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        return None

    def _model_object(self, model: str) -> JSON:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "system"}

    def _list_models(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._auth_error(request) or Response(
            200, {"object": "list", "data": [self._model_object(m) for m in self.models]}
        )

    def _get_model(self, request: Request, path: Mapping[str, str]) -> Response:
        if denied := self._auth_error(request):
            return denied
        if path["model"] not in self.models:
            return self._model_not_found(path["model"])
        return Response(200, self._model_object(path["model"]))

    def _model_not_found(self, model: str) -> Response:
        return self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            code="model_not_found",
        )

    def _chat_completions(self, request: Request, path: Mapping[str, str]) -> Response:
        if denied := self._auth_error(request):
            return denied
        if request.header("Content-Type").split(";")[0].strip().lower() != "application/json":
            return self._bad_request(
                "Unsupported content type. Send a JSON body with Content-Type: application/json."
            )
        params = request_params(request)
        model, messages = params.get("model"), params.get("messages")
        if not model:
            return self._error(400, "you must provide a model parameter", "invalid_request_error")
        if messages is None:
            return self._error(
                400,
                "Missing required parameter: 'messages'.",
                "invalid_request_error",
                code="missing_required_parameter",
                param="messages",
            )
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._error(
                400,
                "Invalid 'messages': expected a non-empty array of message objects.",
                "invalid_request_error",
                code="invalid_value",
                param="messages",
            )
        if str(model) not in self.models:
            return self._model_not_found(str(model))
        if params.get("stream"):
            return self._error(
                400, "stream=true is not supported by this fake", "invalid_request_error", param="stream"
            )
        prompt_tokens = 3 + sum(4 + _approx_tokens(str(m.get("content") or "")) for m in messages)
        content, finish_reason = self.reply, "stop"
        limit = params.get("max_completion_tokens", params.get("max_tokens"))
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < _approx_tokens(content):
            content, finish_reason = content[: limit * 4], "length"
        completion_tokens = _approx_tokens(content)
        # OpenAI caches prompt prefixes in blocks of 128 tokens once a prompt reaches 1024.
        cached_tokens = (prompt_tokens // 128) * 128 if self.prompt_caching and prompt_tokens >= 1024 else 0
        body = {
            "id": f"chatcmpl-fake{self._next_id():012d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        return Response(200, body, (("x-request-id", f"req_{time.time_ns():x}"),))

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        message, type_, code = _OPENAI_ERRORS.get(faults.error_status, _OPENAI_ERRORS[500])
        return self._error(faults.error_status, message, type_, code=code)

    def _not_found(self, request: Request) -> Response:
        return self._error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")

    def _bad_request(self, message: str) -> Response:
        return self._error(400, message, "invalid_request_error")


def _approx_tokens(text: str) -> int:
    """OpenAI's rule of thumb (about four characters a token), so usage grows with the text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0
