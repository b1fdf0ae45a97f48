"""`gateway emulate` over real HTTP: each provider's wire format, /metrics under load, faults."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import orjson
import pytest

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def emulators(servers):
    return {
        "vllm": servers.emulator("vllm", "--seed", "3"),
        "sglang": servers.emulator("sglang"),
        "novita": servers.emulator("novita"),
        "fireworks": servers.emulator("fireworks"),
        "deepseek": servers.emulator("deepseek"),
        "queued": servers.emulator("vllm", "--max-concurrency", "1", "--ttft-ms", "400", "--tpot-ms", "1", name="queued"),
        "short": servers.emulator("vllm", "--max-model-len", "64", name="short"),
    }


def _chat(server, **body):
    response = httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO, **body})
    response.raise_for_status()
    return response.json()


def _stream_events(server, **body) -> list[dict]:
    with httpx.stream("POST", f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO, "stream": True, **body}) as r:
        text = r.read().decode()
    assert text.endswith("data: [DONE]\n\n")
    return [orjson.loads(e[len("data: "):]) for e in text.split("\n\n") if e.startswith("data: {")]


def _metric(server, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not on /metrics")


def test_vllm_reports_reasoning_in_its_newer_field_only_when_its_template_switch_is_on(emulators):
    on = _chat(emulators["vllm"], chat_template_kwargs={"thinking": True}, max_tokens=10)["choices"][0]["message"]
    assert on["reasoning"] and "reasoning_content" not in on
    off = _chat(emulators["vllm"], reasoning_effort="high", max_tokens=10)["choices"][0]["message"]  # not vLLM's switch
    assert off["reasoning"] is None  # vLLM 0.32 sends the field, null, when nothing was reasoned


def test_vllm_chunks_and_separate_usage_chunk(emulators):
    events = _stream_events(emulators["vllm"], max_tokens=3, stream_options={"include_usage": True})
    assert events[0]["object"] == "chat.completion.chunk" and events[0]["id"].startswith("chatcmpl-")
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 3
    assert "usage" not in _stream_events(emulators["vllm"], max_tokens=3)[-1]


def test_deepseek_usage_has_cache_fields_and_reasoning_tokens_on_the_final_chunk(emulators):
    long_system = {"role": "system", "content": "Answer briefly. " * 60}
    body = {"model": "deepseek-v4-flash", "messages": [long_system, *HELLO], "max_tokens": 8, "stream": True}
    httpx.post(f"{emulators['deepseek'].v1}/chat/completions", json=body).raise_for_status()
    events = _stream_events(emulators["deepseek"], **body)
    final = events[-1]
    assert final["choices"][0]["finish_reason"] == "length"
    assert final["system_fingerprint"].startswith("fp_")
    usage = final["usage"]
    assert usage["prompt_cache_hit_tokens"] > 0 and usage["prompt_cache_hit_tokens"] % 64 == 0
    assert usage["prompt_cache_hit_tokens"] + usage["prompt_cache_miss_tokens"] == usage["prompt_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 4
    assert any("reasoning_content" in e["choices"][0]["delta"] for e in events if e["choices"])


def test_novita_thinks_unless_told_not_to(emulators):
    assert _chat(emulators["novita"], max_tokens=6)["choices"][0]["message"]["reasoning_content"]
    assert "reasoning_content" not in _chat(emulators["novita"], enable_thinking=False, max_tokens=6)["choices"][0]["message"]


def test_fireworks_thinks_with_reasoning_effort(emulators):
    assert _chat(emulators["fireworks"], reasoning_effort="low", max_tokens=6)["choices"][0]["message"]["reasoning_content"]
    assert "reasoning_content" not in _chat(emulators["fireworks"], reasoning_effort="none", max_tokens=6)["choices"][0]["message"]


def test_models_and_health(emulators):
    assert httpx.get(f"{emulators['novita'].v1}/models").json()["data"][0]["id"] == "deepseek/deepseek-v3.2"
    assert httpx.get(f"{emulators['novita'].url}/health").status_code == 200
    assert httpx.get(f"{emulators['novita'].url}/metrics").status_code == 404  # managed APIs have no /metrics


def test_legacy_completions(emulators):
    response = httpx.post(f"{emulators['sglang'].v1}/completions", json={"model": "m", "prompt": "Hi", "max_tokens": 4}).json()
    assert response["object"] == "text_completion" and len(response["choices"][0]["text"].split()) == 4


def test_sglang_metric_names(emulators):
    _chat(emulators["sglang"], max_tokens=2)
    for name in ("sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage", "sglang:prompt_tokens_total"):
        _metric(emulators["sglang"], name)
    assert _metric(emulators["sglang"], "sglang:generation_tokens_total") >= 2


async def test_vllm_metrics_reflect_running_and_queued_requests_against_max_concurrency(emulators):
    server = emulators["queued"]
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"model": "m", "messages": HELLO, "max_tokens": 2}
        calls = [asyncio.create_task(client.post(f"{server.v1}/chat/completions", json=body)) for _ in range(3)]
        seen = (0.0, 0.0)
        while seen != (1.0, 2.0) and not all(c.done() for c in calls):
            text = (await client.get(f"{server.url}/metrics")).text
            values = {l.split("{")[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("vllm:num_requests")}
            seen = (values["vllm:num_requests_running"], values["vllm:num_requests_waiting"])
        assert seen == (1.0, 2.0)
        assert all(r.status_code == 200 for r in await asyncio.gather(*calls))
    assert _metric(server, "vllm:num_requests_running") == 0.0
    assert _metric(server, "vllm:kv_cache_usage_perc") == 0.0
    assert _metric(server, "vllm:time_to_first_token_seconds_count") == 3.0
    assert _metric(server, "vllm:generation_tokens_total") == 6.0


def test_request_log_keeps_bodies_and_redacts_authorization(emulators):
    server = emulators["fireworks"]
    httpx.delete(f"{server.url}/_emulator/requests")
    httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO, "custom": 1},
               headers={"authorization": "Bearer sk-very-secret"})
    [logged] = httpx.get(f"{server.url}/_emulator/requests").json()["requests"]
    assert logged["body"]["custom"] == 1 and logged["path"] == "/v1/chat/completions"
    assert logged["headers"]["authorization"] == "[redacted]"


@pytest.mark.parametrize(("mode", "status"), [("500", 500), ("429", 429)])
def test_status_faults(emulators, mode, status):
    server = emulators["fireworks"]
    httpx.post(f"{server.url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": mode})
    try:
        response = httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO})
    finally:
        httpx.post(f"{server.url}/_emulator/config", json={"fail_rate": 0.0})
    assert response.status_code == status and response.json()["error"]["message"]
    if status == 429:
        assert response.headers["retry-after"] == "1"


def test_bad_requests_are_rejected_like_the_provider_would(emulators):
    response = httpx.post(f"{emulators['vllm'].v1}/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 400 and "messages" in response.json()["error"]["message"]


@pytest.mark.parametrize(("body", "param", "start"), [
    ({"messages": [{"role": "user", "content": "hello there " * 40}]}, "input_tokens", "This model's maximum context length is 64 tokens."),
    ({"messages": HELLO, "max_tokens": 65}, "max_tokens", "max_tokens=65 cannot be greater than max_model_len=64."),
    ({"messages": HELLO, "temperature": -0.5}, "temperature", "temperature must be non-negative, got -0.5."),
])
def test_vllm_400s_name_the_parameter_as_vllm_does(emulators, body, param, start):
    response = httpx.post(f"{emulators['short'].v1}/chat/completions", json={"model": "m", **body})
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == 400 and error["type"] == "BadRequestError"
    assert error["param"] == param and error["message"].startswith(start)
    assert f"(parameter={param}, value=" in error["message"]


def test_vllm_wire_format_has_vllms_placeholders_fingerprint_and_usage_places(emulators):
    answer = _chat(emulators["short"], max_tokens=3)
    assert answer["system_fingerprint"].startswith("vllm-") and answer["kv_transfer_params"] is None
    message = answer["choices"][0]["message"]
    assert (message["refusal"], message["reasoning"], answer["choices"][0]["token_ids"]) == (None, None, None)
    assert answer["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
    events = _stream_events(emulators["short"], max_tokens=3, stream_options={"include_usage": True})
    role, finish, usage = events[0], events[-2], events[-1]
    assert "stop_reason" not in role["choices"][0] and role["prompt_token_ids"] is None
    assert finish["choices"][0]["delta"] == {"content": ""} and "system_fingerprint" not in finish
    assert usage["system_fingerprint"] == answer["system_fingerprint"] and "prompt_tokens_details" not in usage["usage"]
    assert "system_fingerprint" in _stream_events(emulators["short"], max_tokens=3)[-1]  # no usage chunk: on the finish
    card = httpx.get(f"{emulators['short'].v1}/models").json()["data"][0]
    assert card["max_model_len"] == 64 and card["root"] == card["id"] and card["permission"][0]["object"] == "model_permission"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fail-rate", "2"], "--fail-rate must be between 0 and 1"),
        (["--max-model-len", "0"], "--max-model-len must be at least 1"),
        (["--planner-model", "deepseek-v3.2"], "go together"),
        (["--ttft-ms", "5", "--planner-model", "a", "--planner-gpu", "h200", "--planner-gpus", "8"], "not both"),
    ],
)
def test_cli_mistakes_are_one_line_and_exit_2(flags, message):
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "emulate", "--port", "1", *flags], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_vllm_replica_caches_its_own_answers_so_the_next_turn_finds_them(emulators):
    replica, other = emulators["vllm"], emulators["queued"]  # two vLLM emulators: two replicas, two caches
    turn_1 = [{"role": "system", "content": "You plan trips. " * 40}, {"role": "user", "content": "Plan Lisbon. " * 20}]
    answer = _chat(replica, messages=turn_1, max_tokens=12)["choices"][0]["message"]["content"]
    _chat(other, messages=turn_1, max_tokens=12)  # the other replica has seen the prompt, not this answer
    turn_2 = [*turn_1, {"role": "assistant", "content": answer}, {"role": "user", "content": "And Porto?"}]
    here = _chat(replica, messages=turn_2, max_tokens=1)["usage"]["prompt_tokens_details"]["cached_tokens"]
    there = _chat(other, messages=turn_2, max_tokens=1)["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert here % 16 == 0 and there % 16 == 0  # whole 16-token blocks, vLLM's default block size
    assert here > there > 0
