"""Bad requests get OpenAI's error JSON with the right status, never a traceback."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture()
def url(provider_stack) -> str:
    return provider_stack.gateway.v1


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "\xff\xfe"}]}', "not valid JSON"),
    ],
)
def test_unparseable_body_is_a_400(url, content, fragment):
    error = _error(httpx.post(f"{url}/chat/completions", content=content, headers={"content-type": "application/json"}), 400)
    assert fragment in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": "auto"}, "messages"),
        ({"model": "auto", "messages": []}, "messages"),
        ({"model": "auto", "messages": [{"content": "no role"}]}, "messages[0]"),
        ({"model": "auto", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": "auto", "messages": HELLO, "n": "two"}, "n"),
        ({"model": "auto", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "auto", "messages": HELLO, "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_invalid_fields_are_a_400_naming_the_parameter(url, body, param):
    assert _error(httpx.post(f"{url}/chat/completions", json=body), 400)["param"] == param


def test_unknown_model_is_a_404_listing_the_models(provider_stack):
    client = openai.OpenAI(base_url=provider_stack.gateway.v1, api_key="sk-client", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nonexistent", messages=HELLO)
    assert caught.value.body["code"] == "model_not_found"
    assert "via-novita" in caught.value.body["message"]


def test_body_over_the_limit_is_a_413(url):
    big = {"model": "auto", "messages": [{"role": "user", "content": "x" * 70_000}]}
    assert _error(httpx.post(f"{url}/chat/completions", json=big), 413)["code"] == "request_too_large"


def test_unknown_path_is_a_404_and_wrong_method_a_405(provider_stack):
    assert _error(httpx.get(f"{provider_stack.gateway.url}/v2/nothing"), 404)["code"] == "not_found"
    assert _error(httpx.get(f"{provider_stack.gateway.v1}/chat/completions"), 405)["code"] == "method_not_allowed"


def test_upstream_rejection_is_passed_back_with_its_status(url):
    body = {"model": "auto", "messages": HELLO, "n": 20}  # the emulated vLLM serves n <= 16
    error = _error(httpx.post(f"{url}/chat/completions", json=body), 400)
    assert error["code"] == "client_error" and "n must be" in error["message"]


def test_error_responses_carry_the_request_id(url):
    response = httpx.post(f"{url}/chat/completions", json={"model": "nope", "messages": HELLO})
    assert response.headers["x-switchyard-request-id"].startswith("req_")


def test_health_and_readiness(provider_stack):
    assert httpx.get(f"{provider_stack.gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{provider_stack.gateway.url}/readyz").json()
    assert ready["status"] == "ready" and ready["backends"] == ["local", "sglang", "novita", "fireworks", "deepseek"]


def test_openapi_document_declares_the_request_bodies(provider_stack):
    document = httpx.get(f"{provider_stack.gateway.url}/openapi.json").json()
    body = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    assert "messages" in document["components"]["schemas"]["ChatCompletionRequest"]["required"]
