"""`GET /_emulator/stats`: a request counter that, unlike the request log, counts every inference
request (faulted and malformed ones too) and is never trimmed or cleared."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "hello"}]


def test_stats_count_every_inference_request_including_faults_and_bad_bodies(servers):
    server = servers.emulator("vllm", name="stats")
    assert httpx.get(f"{server.url}/_emulator/stats").json() == {"requests_received": 0}
    httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO})
    httpx.post(f"{server.v1}/completions", json={"model": "m", "prompt": "hi"})
    httpx.post(f"{server.v1}/chat/completions", content=b"{not json")
    httpx.post(f"{server.url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": "500"})
    assert httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO}).status_code == 500
    httpx.delete(f"{server.url}/_emulator/requests")  # clears the log, not the counter
    httpx.get(f"{server.v1}/models")  # not an inference request
    assert httpx.get(f"{server.url}/_emulator/stats").json() == {"requests_received": 4}


def test_the_401_fault_echoes_the_bearer_token_like_a_careless_provider(servers):
    server = servers.emulator("novita", name="stats-401")
    httpx.post(f"{server.url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": "401"})
    response = httpx.post(f"{server.v1}/chat/completions", json={"model": "m", "messages": HELLO},
                          headers={"authorization": "Bearer sk-echo-me"})
    assert response.status_code == 401 and "sk-echo-me" in response.json()["error"]["message"]
    [logged] = httpx.get(f"{server.url}/_emulator/requests").json()["requests"]
    assert logged["headers"]["authorization"] == "[redacted]" and len(logged["credential_sha256"]["authorization"]) == 16
