"""The emulator's vllm profile against a real vLLM: the same requests, the same JSON shapes.

Each test sends one request to both servers and compares keys and value types recursively
(values differ: the emulator's text is its own), streams chunk run by chunk run, error bodies,
`/v1/models`, and `/metrics` families with their label names and histogram buckets. A
difference fails the test and names the field; mend `backends/emulator/wire.py` (or the profile),
not the test. After a vLLM bump these failures are the list of what changed on the wire.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import orjson
import pytest

from gateway.live.scrape import ENGINE_METRICS
from tests.conftest import ROOT, wait_for
from tests.real_vllm.engine import MAX_MODEL_LEN, SERVED_MODEL
from tests.real_vllm.shapes import metric_differences, metric_samples, record_sse, shape_differences, stream_differences

pytestmark = [pytest.mark.slow, pytest.mark.real_vllm]

HELLO = [{"role": "user", "content": "Say hello."}]
THINKING = {"chat_template_kwargs": {"thinking": True}}
REQUEST_TIMEOUT_S = 120.0
MERGED_STREAM_RETRY_S = 120.0
DASHBOARD = ROOT / "infra" / "grafana" / "switchyard.json"


def _post(base_v1: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base_v1}{path}", json={"model": SERVED_MODEL, "temperature": 0, **body}, timeout=REQUEST_TIMEOUT_S)


def _both(emulator: Any, engine: Any, path: str, body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    return _post(emulator.v1, path, body), _post(engine.v1, path, body)


def _chunks(base_v1: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    payload = {"model": SERVED_MODEL, "temperature": 0, "stream": True, **body}
    events = record_sse(f"{base_v1}{path}", payload, timeout_s=REQUEST_TIMEOUT_S)
    assert events and events[-1].data == "[DONE]", "the stream must end with data: [DONE]"
    return [event.data for event in events[:-1]]


def _assert_same_shape(ours: Any, theirs: Any, what: str) -> None:
    problems = shape_differences(ours, theirs)
    assert not problems, f"{what}: the emulator's vllm profile differs from vLLM:\n" + "\n".join(problems)


def _coalesced(chunks: list[dict[str, Any]]) -> bool:
    """Whether vLLM merged several tokens into one chunk (it does when its HTTP side lags behind the
    engine): every token of the tiny model is one word with its leading space, or empty."""
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            pieces = [v for k, v in delta.items() if k != "role" and isinstance(v, str)] + [choice.get("text") or ""]
            if sum(1 for piece in pieces if piece) > 1 or any(piece.count(" ") > 1 for piece in pieces):
                return True
    return False


def _token_by_token(engine: Any, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """vLLM's stream one token per chunk, the form the emulator reproduces. A loaded machine makes vLLM
    merge tokens (its HTTP side falls behind the engine): merged chunks keep the keys of single ones,
    but a run can vanish into the finish chunk, or reasoning and content share a delta; such a
    stream is asked for again, for at most MERGED_STREAM_RETRY_S (a backstop: a load spike passes)."""
    def unmerged() -> list[dict[str, Any]] | None:
        chunks = _chunks(engine.v1, path, body)
        return None if _coalesced(chunks) else chunks

    return wait_for(unmerged, f"a token-by-token stream of {path} {body} from vLLM", timeout_s=MERGED_STREAM_RETRY_S)


def _assert_same_stream(emulator: Any, engine: Any, path: str, body: dict[str, Any], what: str) -> None:
    problems = stream_differences(_chunks(emulator.v1, path, body), _token_by_token(engine, path, body))
    assert not problems, f"{what}: the emulator's vllm profile streams differently from vLLM:\n" + "\n".join(problems)


@pytest.mark.parametrize(("path", "body"), [
    ("/chat/completions", {"messages": HELLO, "max_tokens": 5}),
    ("/chat/completions", {"messages": HELLO, "max_tokens": 40, **THINKING}),
    ("/completions", {"prompt": "Say hello.", "max_tokens": 5}),
], ids=["chat", "chat-thinking", "completions"])
def test_non_streamed_answers_have_vllms_shape(contract_emulator, vllm_engine, path, body):
    ours, theirs = _both(contract_emulator, vllm_engine, path, body)
    assert (ours.status_code, theirs.status_code) == (200, 200), (ours.text, theirs.text)
    _assert_same_shape(ours.json(), theirs.json(), f"POST {path} {body}")


@pytest.mark.parametrize(("path", "body"), [
    ("/chat/completions", {"messages": HELLO, "max_tokens": 8}),
    ("/chat/completions", {"messages": HELLO, "max_tokens": 8, "stream_options": {"include_usage": True}}),
    ("/chat/completions", {"messages": HELLO, "max_tokens": 40, "stream_options": {"include_usage": True}, **THINKING}),
    ("/completions", {"prompt": "Say hello.", "max_tokens": 8}),
    ("/completions", {"prompt": "Say hello.", "max_tokens": 8, "stream_options": {"include_usage": True}}),
], ids=["chat", "chat-usage", "chat-thinking-usage", "completions", "completions-usage"])
def test_streamed_chunks_and_where_usage_arrives_match_vllm(contract_emulator, vllm_engine, path, body):
    _assert_same_stream(contract_emulator, vllm_engine, path, body, f"streamed POST {path} {body}")


def _reasoning_keys(message: dict[str, Any]) -> set[str]:
    return {key for key, value in message.items() if key not in ("role", "content") and isinstance(value, str) and value}


def test_reasoning_arrives_under_vllms_field_name(contract_emulator, vllm_engine):
    body = {"messages": HELLO, "max_tokens": 40, **THINKING}
    ours, theirs = (r.json()["choices"][0]["message"] for r in _both(contract_emulator, vllm_engine, "/chat/completions", body))
    assert _reasoning_keys(theirs) == {"reasoning"}, f"vLLM's reasoning parser put its text in {_reasoning_keys(theirs)}"
    assert _reasoning_keys(ours) == _reasoning_keys(theirs), (
        f"reasoning field: the emulator fills {sorted(_reasoning_keys(ours))}, vLLM fills {sorted(_reasoning_keys(theirs))}")
    streamed = {key for chunk in _chunks(contract_emulator.v1, "/chat/completions", body) for c in chunk["choices"]
                for key in c["delta"] if key not in ("role", "content")}
    real_streamed = {key for chunk in _token_by_token(vllm_engine, "/chat/completions", body) for c in chunk["choices"]
                     for key in c["delta"] if key not in ("role", "content")}
    assert streamed == real_streamed == {"reasoning"}, f"streamed reasoning: emulator {streamed}, vLLM {real_streamed}"


TOO_LONG = [{"role": "user", "content": "say hello " * MAX_MODEL_LEN}]  # about 2 tokens per repeat in either count


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/chat/completions", {"messages": TOO_LONG, "max_tokens": 5}, "input_tokens"),
    ("/completions", {"prompt": "say hello " * MAX_MODEL_LEN, "max_tokens": 5}, "input_tokens"),
    ("/chat/completions", {"messages": HELLO, "temperature": -1}, "temperature"),
    ("/chat/completions", {"messages": HELLO, "max_tokens": MAX_MODEL_LEN + 1}, "max_tokens"),
], ids=["chat-prompt-too-long", "completions-prompt-too-long", "bad-temperature", "max-tokens-over-context"])
def test_error_bodies_match_vllm(contract_emulator, vllm_engine, path, body, param):
    ours, theirs = _both(contract_emulator, vllm_engine, path, body)
    assert theirs.status_code == 400 and theirs.json()["error"]["param"] == param, theirs.text
    assert ours.status_code == theirs.status_code, f"status: emulator {ours.status_code}, vLLM {theirs.status_code}"
    _assert_same_shape(ours.json(), theirs.json(), f"error body of POST {path}")
    assert ours.json()["error"]["param"] == param and ours.json()["error"]["type"] == theirs.json()["error"]["type"]


def test_model_list_has_vllms_shape(contract_emulator, vllm_engine):
    ours, theirs = (httpx.get(f"{server.v1}/models", timeout=10) for server in (contract_emulator, vllm_engine))
    _assert_same_shape(ours.json(), theirs.json(), "GET /v1/models")
    assert theirs.json()["data"][0]["max_model_len"] == MAX_MODEL_LEN == ours.json()["data"][0]["max_model_len"]


def relied_on_samples() -> set[str]:
    """vLLM series the gateway scrapes (each gauge's preferred name) and the Grafana dashboard queries."""
    scraped = {names[0] for engine in (ENGINE_METRICS["vllm"],) for names in (engine.waiting, engine.running, engine.kv_usage)}
    queried = set(re.findall(r"vllm:[a-z_:]+", " ".join(p.get("expr", "") for p in _dashboard_targets())))
    return scraped | queried


def _dashboard_targets() -> list[dict[str, Any]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target for panel in panels for target in panel.get("targets", ())]


def test_metrics_the_gateway_and_dashboard_rely_on_and_the_emulator_exports_match_vllm(contract_emulator, vllm_engine):
    # one request first, so that every series has been touched on both
    _both(contract_emulator, vllm_engine, "/chat/completions", {"messages": HELLO, "max_tokens": 2})
    ours = metric_samples(httpx.get(f"{contract_emulator.url}/metrics", timeout=10).text, "vllm:")
    theirs = metric_samples(httpx.get(f"{vllm_engine.url}/metrics", timeout=10).text, "vllm:")
    needed = relied_on_samples()
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket"} <= needed

    def family_of(sample: str, families: dict[str, dict[str, Any]]) -> str | None:
        return next((name for name, family in families.items() if sample in family["labels"]), None)

    missing = sorted(f"{sample}: not on {who}'s /metrics" for sample in needed
                     for who, families in (("vLLM", theirs), ("the emulator", ours)) if family_of(sample, families) is None)
    compared = set(ours) | {family_of(sample, theirs) for sample in needed} - {None}
    problems = missing + metric_differences(ours, theirs, compared)
    assert not problems, "/metrics: the emulator's vllm profile differs from vLLM:\n" + "\n".join(problems)


def test_the_engine_answers_as_the_contract_expects(vllm_engine):
    """The tiny model's planned greedy output through vLLM's deepseek_v3 parser (tiny_model.py)."""
    message = orjson.loads(_post(vllm_engine.v1, "/chat/completions", {"messages": HELLO, **THINKING}).content)["choices"][0]["message"]
    assert message["reasoning"] == " let me think carefully"
    assert message["content"] == " the gateway routes each request to its cheapest backend"
