"""The policy of docs/load-balancing.md: shown on the page as it is, and routing as the page says."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from policies.affinity import AffinityLookup
from policies.engine import decide
from policies.features import RequestFeatures
from policies.loader import load_policy
from policies.state import BackendState

ROOT = Path(__file__).resolve().parents[2]
REPLICAS_POLICY = ROOT / "docs" / "load-balancing" / "replicas.yaml"


def test_the_page_shows_the_policy_file_verbatim():
    assert REPLICAS_POLICY.read_text().strip() in (ROOT / "docs" / "load-balancing.md").read_text()


def test_replicas_balances_new_conversations_and_keeps_known_ones_home():
    policy = load_policy(REPLICAS_POLICY, env={})
    plain = RequestFeatures(model="deepseek-v3.2", input_tokens=2000, max_tokens=500)
    busy = {"vllm-a": BackendState(in_flight=9), "vllm-b": BackendState(in_flight=3, waiting=2), "vllm-c": BackendState(in_flight=4)}
    assert decide(policy, plain, busy, random.Random(0)).chain == ["vllm-c", "vllm-b", "vllm-a"]
    known = RequestFeatures(model="deepseek-v3.2", input_tokens=2000, max_tokens=500,
                            affinity=AffinityLookup("prefix", "replicas:k", "vllm-a", 0.9))
    assert decide(policy, known, busy, random.Random(0)).chain[0] == "vllm-a"
    queued = {**busy, "vllm-a": BackendState(in_flight=9, waiting=8)}  # affinity.max_waiting 8: the key moves
    assert decide(policy, known, queued, random.Random(0)).chain[0] == "vllm-c"
    firsts = Counter(decide(policy, plain, {}, random.Random(seed)).chain[0] for seed in range(60))
    assert set(firsts) == {"vllm-a", "vllm-b", "vllm-c"}  # idle replicas tie: random, not list order
