"""The policies shipped in policies/*.yaml route the way their comments and the README say."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from policies.engine import decide
from policies.errors import NoCandidateError
from policies.features import RequestFeatures
from policies.loader import load_policy
from policies.state import BackendState

ROOT = Path(__file__).resolve().parents[2]
KEYS_ENV = {"NOVITA_API_KEY": "k1", "FIREWORKS_API_KEY": "k2", "DEEPSEEK_API_KEY": "k3"}


def _load(name: str):
    return load_policy(ROOT / "policies" / name, env=KEYS_ENV)


def test_demo_keeps_local_first_and_spills_to_cheapest_managed_when_its_queue_fills():
    policy = _load("demo.yaml")
    plain = RequestFeatures(model="auto", input_tokens=500, max_tokens=500)
    assert decide(policy, plain, {}).chain == ["local-v32", "novita-v32", "fireworks-terminus"]
    busy = {"local-v32": BackendState(waiting=1)}
    assert decide(policy, plain, busy).chain == ["novita-v32", "fireworks-terminus"]


def test_demo_backends_point_at_the_documented_emulator_addresses():
    policy = load_policy(ROOT / "policies" / "demo.yaml", env={"SWITCHYARD_DEMO_NOVITA_V32_URL": "http://127.0.0.1:9/v1"})
    urls = {name: spec.base_url for name, spec in policy.backends.items()}
    assert urls == {
        "local-v32": "http://127.0.0.1:18001/v1",
        "novita-v32": "http://127.0.0.1:9/v1",
        "fireworks-terminus": "http://127.0.0.1:18003/v1",
    }
    profiles = {name: (spec.type, spec.profile) for name, spec in policy.backends.items()}
    assert profiles["fireworks-terminus"] == ("emulator", "fireworks")


def test_default_sends_thinking_to_terminus_first():
    decision = decide(_load("default.yaml"), RequestFeatures(model="deepseek-reasoner", thinking=True), {})
    assert (decision.route, decision.chain) == ("reasoning", ["fireworks-terminus", "local-v32", "novita-v32"])


def test_default_sends_a_150k_prompt_only_where_it_fits():
    decision = decide(_load("default.yaml"), RequestFeatures(model="auto", input_tokens=150_000, max_tokens=4000), {})
    assert decision.route == "long-context"
    assert decision.chain == ["local-v32", "novita-v32", "deepseek-api"]  # DeepSeek-V4-Flash holds 1M tokens
    dropped = {v.backend: v.reason for v in decision.candidates if not v.kept}
    assert dropped == {
        "fireworks-terminus": "context window 128000 < 154000 tokens needed (input ~150000 + max_tokens 4000)",
    }


def test_default_spills_to_the_cheapest_managed_provider_meeting_the_slo():
    policy = _load("default.yaml")
    request = RequestFeatures(model="auto", input_tokens=2000, max_tokens=500)
    snapshot = {"local-v32": BackendState(waiting=16), "novita-v32": BackendState(ttft_p95_ms=3500)}
    decision = decide(policy, request, snapshot)
    assert decision.chain == ["deepseek-api", "fireworks-terminus"]
    reasons = {v.backend: v.reason for v in decision.candidates if not v.kept}
    assert reasons == {
        "local-v32": "saturated: waiting 16 >= max_waiting 16",
        "novita-v32": "over SLO: ttft_p95 3500 ms > slo 2000 ms",
    }


def test_cost_first_drops_providers_above_its_price_ceiling():
    decision = decide(_load("cost-first.yaml"), RequestFeatures(model="auto", input_tokens=1000, max_tokens=1000), {})
    assert decision.chain == ["local-v32", "novita-v32", "deepseek-api"]
    dropped = {v.backend: v.reason for v in decision.candidates if not v.kept}
    assert dropped == {"fireworks-terminus": "blended price 1.120 USD/Mtok > max_usd_per_mtok 1"}


def test_latency_first_prefers_the_fastest_observed_backend():
    snapshot = {
        "local-v32": BackendState(ttft_p95_ms=1200),
        "novita-v32": BackendState(ttft_p95_ms=400),
        "deepseek-api": BackendState(ttft_p95_ms=900),
        "fireworks-terminus": BackendState(ttft_p95_ms=2500),
    }
    decision = decide(_load("latency-first.yaml"), RequestFeatures(model="auto", max_tokens=200), snapshot,
                      rng=random.Random(0))
    assert decision.chain == ["novita-v32", "deepseek-api"]  # terminus over the SLO, max_attempts 2


def test_canary_splits_ninety_ten_and_forces_the_canary_by_header():
    policy = _load("canary.yaml")
    rng = random.Random(42)
    firsts = Counter(decide(policy, RequestFeatures(model="auto"), {}, rng=rng).chain[0] for _ in range(1000))
    assert set(firsts) == {"stable-vllm", "canary-sglang"}
    assert 50 < firsts["canary-sglang"] < 150
    forced = decide(policy, RequestFeatures(model="auto", headers={"x-canary": "always"}), {})
    assert (forced.route, forced.chain) == ("canary-forced", ["canary-sglang", "novita-v32"])


def test_everything_down_in_demo_gives_a_503_with_reasons():
    policy = _load("demo.yaml")
    down = {name: BackendState(healthy=False) for name in policy.backends}
    with pytest.raises(NoCandidateError) as caught:
        decide(policy, RequestFeatures(model="auto"), down)
    reason = "unhealthy (health probe failing)"
    assert caught.value.reasons == [(name, reason) for name in ("local-v32", "novita-v32", "fireworks-terminus")]


def test_every_circuit_open_in_demo_tries_them_all_anyway():
    policy = _load("demo.yaml")
    tripped = {name: BackendState(circuit_open=True) for name in policy.backends}
    decision = decide(policy, RequestFeatures(model="auto"), tripped)
    assert decision.panic and decision.chain == ["local-v32", "novita-v32", "fireworks-terminus"]
    assert all("circuit open, tried anyway" in verdict.reason for verdict in decision.candidates)


def test_policies_package_imports_no_http_server_redis_or_litellm():
    code = (
        "import sys, policies.loader, policies.engine, policies.features, policies.decision;"
        "policies.loader.load_policy('policies/demo.yaml');"
        "bad = sorted(m for m in ('httpx', 'fastapi', 'redis', 'litellm', 'gateway', 'backends', 'orjson') if m in sys.modules);"
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
